//! Sorted-set commands: ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT,
//! ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX,
//! ZLEXCOUNT, ZREMRANGEBYSCORE, ZREMRANGEBYRANK, ZREMRANGEBYLEX, ZPOPMIN, ZPOPMAX, the
//! blocking BZPOPMIN and BZPOPMAX, ZRANGESTORE, ZUNIONSTORE, ZINTERSTORE, ZSCAN, ZRANDMEMBER.
//!
//! Arguments are parsed and checked in Redis 7.0's order, with its error texts. Scores are
//! parsed like Redis (`strtod`: `inf`, hex floats; `(` for exclusive range bounds) and
//! replied like Redis 7.0 (`%.17g`, so `1.1` reads back as `1.1000000000000001`; RESP3
//! doubles). Commands that add members (ZADD, ZINCRBY, and the STORE commands for their
//! destination) signal the key ready for clients blocked in BZPOPMIN/BZPOPMAX.

use bytes::Bytes;
use pmemkv::collections::{
    Aggregate, KeyType, LexBound, ScoreBound, ZAddOptions, ZCompare, ZCondition, ZRangeBy, ZStoreOp,
};

use super::flags::*;
use super::sets::{long_in_range, next_cursor, positive_count, scan_cursor, scan_match, scan_opts, scan_position};
use super::{int_arg, is, timeout_arg, Command, Ctx};
use crate::blocking::{BlockRequest, Served};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::db_key;
use crate::protocol::reply::Reply;
use crate::shared::Shared;

macro_rules! zset_cmd {
    ($name:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            group: "sorted-set",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The sorted-set family.
pub static COMMANDS: &[Command] = &[
    zset_cmd!(
        "zadd",
        -4,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Add one or more members to a sorted set, or update its score if it already exists",
        "1.2.0",
        zadd
    ),
    zset_cmd!(
        "zincrby",
        4,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Increment the score of a member in a sorted set",
        "1.2.0",
        zincrby
    ),
    zset_cmd!("zrem", -3, WRITE | FAST, 1, 1, 1, "Remove one or more members from a sorted set", "1.2.0", zrem),
    zset_cmd!("zcard", 2, READONLY | FAST, 1, 1, 1, "Get the number of members in a sorted set", "1.2.0", zcard),
    zset_cmd!(
        "zscore",
        3,
        READONLY | FAST,
        1,
        1,
        1,
        "Get the score associated with the given member in a sorted set",
        "1.2.0",
        zscore
    ),
    zset_cmd!(
        "zmscore",
        -3,
        READONLY | FAST,
        1,
        1,
        1,
        "Get the score associated with the given members in a sorted set",
        "6.2.0",
        zmscore
    ),
    zset_cmd!(
        "zrank",
        3,
        READONLY | FAST,
        1,
        1,
        1,
        "Determine the index of a member in a sorted set",
        "2.0.0",
        zrank
    ),
    zset_cmd!(
        "zrevrank",
        3,
        READONLY | FAST,
        1,
        1,
        1,
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "2.0.0",
        zrevrank
    ),
    zset_cmd!(
        "zcount",
        4,
        READONLY | FAST,
        1,
        1,
        1,
        "Count the members in a sorted set with scores within the given values",
        "2.0.0",
        zcount
    ),
    zset_cmd!("zrange", -4, READONLY, 1, 1, 1, "Return a range of members in a sorted set", "1.2.0", zrange),
    zset_cmd!(
        "zrevrange",
        -4,
        READONLY,
        1,
        1,
        1,
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        "1.2.0",
        zrevrange
    ),
    zset_cmd!(
        "zrangebyscore",
        -4,
        READONLY,
        1,
        1,
        1,
        "Return a range of members in a sorted set, by score",
        "1.0.5",
        zrangebyscore
    ),
    zset_cmd!(
        "zrevrangebyscore",
        -4,
        READONLY,
        1,
        1,
        1,
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        "2.2.0",
        zrevrangebyscore
    ),
    zset_cmd!(
        "zrangebylex",
        -4,
        READONLY,
        1,
        1,
        1,
        "Return a range of members in a sorted set, by lexicographical range",
        "2.8.9",
        zrangebylex
    ),
    zset_cmd!(
        "zrevrangebylex",
        -4,
        READONLY,
        1,
        1,
        1,
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        "2.8.9",
        zrevrangebylex
    ),
    zset_cmd!(
        "zlexcount",
        4,
        READONLY | FAST,
        1,
        1,
        1,
        "Count the number of members in a sorted set between a given lexicographical range",
        "2.8.9",
        zlexcount
    ),
    zset_cmd!(
        "zremrangebyscore",
        4,
        WRITE,
        1,
        1,
        1,
        "Remove all members in a sorted set within the given scores",
        "1.2.0",
        zremrangebyscore
    ),
    zset_cmd!(
        "zremrangebyrank",
        4,
        WRITE,
        1,
        1,
        1,
        "Remove all members in a sorted set within the given indexes",
        "2.0.0",
        zremrangebyrank
    ),
    zset_cmd!(
        "zremrangebylex",
        4,
        WRITE,
        1,
        1,
        1,
        "Remove all members in a sorted set between the given lexicographical range",
        "2.8.9",
        zremrangebylex
    ),
    zset_cmd!(
        "zpopmin",
        -2,
        WRITE | FAST,
        1,
        1,
        1,
        "Remove and return members with the lowest scores in a sorted set",
        "5.0.0",
        zpopmin
    ),
    zset_cmd!(
        "zpopmax",
        -2,
        WRITE | FAST,
        1,
        1,
        1,
        "Remove and return members with the highest scores in a sorted set",
        "5.0.0",
        zpopmax
    ),
    zset_cmd!(
        "bzpopmin",
        -3,
        WRITE | NOSCRIPT | BLOCKING | FAST,
        1,
        -2,
        1,
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        "5.0.0",
        bzpopmin
    ),
    zset_cmd!(
        "bzpopmax",
        -3,
        WRITE | NOSCRIPT | BLOCKING | FAST,
        1,
        -2,
        1,
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        "5.0.0",
        bzpopmax
    ),
    zset_cmd!(
        "zrangestore",
        -5,
        WRITE | DENYOOM,
        1,
        2,
        1,
        "Store a range of members from sorted set into another key",
        "6.2.0",
        zrangestore
    ),
    // The source keys follow `numkeys`; the key range covers the destination (what Redis's
    // legacy key range reports), so WATCH sees the write.
    zset_cmd!(
        "zunionstore",
        -4,
        WRITE | DENYOOM,
        1,
        1,
        1,
        "Add multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0",
        zunionstore
    ),
    zset_cmd!(
        "zinterstore",
        -4,
        WRITE | DENYOOM,
        1,
        1,
        1,
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0",
        zinterstore
    ),
    zset_cmd!(
        "zscan",
        -3,
        READONLY,
        1,
        1,
        1,
        "Incrementally iterate sorted sets elements and associated scores",
        "2.8.0",
        zscan
    ),
    zset_cmd!(
        "zrandmember",
        -2,
        READONLY,
        1,
        1,
        1,
        "Get one or multiple random elements from a sorted set",
        "6.2.0",
        zrandmember
    ),
];

// ---- scores: parsing and formatting --------------------------------------------------------

/// C's `strtod` on bytes (glibc's grammar: leading white space, sign, decimal or `0x` hex
/// floats, `inf`/`infinity`, `nan`). Returns the value, how many bytes it used (0: no
/// conversion, value 0) and whether it over- or underflowed (`ERANGE`).
fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"inf") {
        let used = if starts(b"infinity") { 8 } else { 3 };
        return (sign(f64::INFINITY), i + used, false);
    }
    if starts(b"nan") {
        let mut used = 3;
        if rest.get(3) == Some(&b'(') {
            if let Some(close) = rest[4..].iter().position(|&c| c == b')') {
                if rest[4..4 + close].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    used = 5 + close;
                }
            }
        }
        return (f64::NAN, i + used, false);
    }
    if starts(b"0x") {
        return match hex_float(&rest[2..]) {
            Some((v, used, erange)) => (sign(v), i + 2 + used, erange),
            // "0x" without hex digits: only the "0" converts.
            None => (sign(0.0), i + 1, false),
        };
    }
    let digits = |from: usize| from + rest[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int_end = digits(0);
    let mut j = int_end;
    let mut frac = &rest[0..0];
    if rest.get(j) == Some(&b'.') {
        let end = digits(j + 1);
        frac = &rest[j + 1..end];
        j = end;
    }
    if int_end == 0 && frac.is_empty() {
        return (0.0, 0, false);
    }
    let mut exp = &b"0"[..];
    if matches!(rest.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let end = digits(k);
        if end > k {
            exp = &rest[j + 1..end];
            j = end;
        }
    }
    let text = |b: &[u8]| std::str::from_utf8(b).expect("ASCII digits").to_string();
    let int = if int_end == 0 { "0".to_string() } else { text(&rest[..int_end]) };
    let frac_text = if frac.is_empty() { "0".to_string() } else { text(frac) };
    let v: f64 = format!("{int}.{frac_text}e{}", text(exp)).parse().unwrap_or(0.0);
    let nonzero = rest[..int_end].iter().chain(frac).any(|&c| c != b'0');
    let erange = v.is_infinite() || (nonzero && v.abs() < f64::MIN_POSITIVE);
    (sign(v), i + j, erange)
}

/// The magnitude of a hex float after its `0x` (`1.8p3`), the bytes used and `ERANGE`;
/// `None` without hex digits.
fn hex_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let (mut mant, mut exp, mut sticky, mut any) = (0u128, 0i64, false, false);
    let mut j = 0;
    let mut fraction = false;
    while j < s.len() {
        let c = s[j];
        if c == b'.' && !fraction {
            fraction = true;
            j += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else { break };
        any = true;
        if mant >> 120 == 0 {
            mant = mant * 16 + d as u128;
            if fraction {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !fraction {
                exp += 4;
            }
        }
        j += 1;
    }
    if !any {
        return None;
    }
    if matches!(s.get(j), Some(b'p' | b'P')) {
        let mut k = j + 1;
        let neg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        let start = k;
        let mut p: i64 = 0;
        while k < s.len() && s[k].is_ascii_digit() {
            p = p.saturating_mul(10).saturating_add((s[k] - b'0') as i64);
            k += 1;
        }
        if k > start {
            exp = exp.saturating_add(if neg { -p } else { p });
            j = k;
        }
    }
    let mut v = (mant | sticky as u128) as f64;
    while exp > 0 && v != 0.0 && v.is_finite() {
        let step = exp.min(1000);
        v *= 2f64.powi(step as i32);
        exp -= step;
    }
    while exp < 0 && v != 0.0 {
        let step = (-exp).min(1000);
        v /= 2f64.powi(step as i32);
        exp += step;
    }
    Some((v, j, v.is_infinite() || (v == 0.0 && mant != 0)))
}

/// Redis's `string2d` (ZADD scores, ZINCRBY increments, WEIGHTS): the whole argument must be
/// a number, no leading space, no overflow, no NaN.
fn string2d(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() || arg[0] == 0x0b {
        return None;
    }
    let (v, used, erange) = strtod(arg);
    if used != arg.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// A score argument (`ERR value is not a valid float`).
fn score_arg(arg: &[u8]) -> Result<f64, CmdError> {
    string2d(arg).ok_or_else(CmdError::not_float)
}

/// One end of a score range (`1.5`, `(1.5`, `-inf`, `+inf`), parsed like Redis's
/// `zslParseRange` (plain `strtod` on a C string, so an empty argument is 0 and a NUL byte
/// ends the number).
fn score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let arg = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    let (exclusive, body) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let (v, used, _) = strtod(body);
    if used != body.len() || v.is_nan() {
        return None;
    }
    Some(if exclusive { ScoreBound::Exclusive(v) } else { ScoreBound::Inclusive(v) })
}

fn score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), CmdError> {
    match (score_bound(min), score_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(CmdError::err("min or max is not a float")),
    }
}

/// One end of a lex range: `-`, `+`, `[member`, `(member`.
fn lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::PosInf),
        b'-' if arg.len() == 1 => Some(LexBound::NegInf),
        b'(' => Some(LexBound::Exclusive(arg[1..].to_vec())),
        b'[' => Some(LexBound::Inclusive(arg[1..].to_vec())),
        _ => None,
    }
}

fn lex_range(min: &[u8], max: &[u8]) -> Result<(LexBound, LexBound), CmdError> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(CmdError::err("min or max not valid string range item")),
    }
}

/// Formats a score as Redis 7.0 replies with it: `printf("%.17g")`, with `inf`/`-inf`.
pub fn format_score(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    fn trim(s: &str) -> &str {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        }
    }
    // 17 significant digits, correctly rounded; the exponent after rounding picks the style.
    let sci = format!("{d:.16e}");
    let (mant, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), exp.unsigned_abs())
    } else {
        trim(&format!("{:.*}", (16 - exp) as usize, d)).to_string()
    }
}

/// Writes a score: a RESP3 double, or a bulk string in RESP2.
pub fn reply_score(out: &mut Reply, d: f64) {
    let s = format_score(d);
    if out.resp3() {
        out.raw(format!(",{s}\r\n").as_bytes());
    } else {
        out.bulk(s.as_bytes());
    }
}

/// Writes an optional score (null if absent).
fn reply_opt_score(out: &mut Reply, d: Option<f64>) {
    match d {
        Some(d) => reply_score(out, d),
        None => out.null(),
    }
}

/// Writes members, with their scores if asked: a flat array in RESP2, pairs in RESP3.
fn reply_members(out: &mut Reply, items: &[(Vec<u8>, f64)], withscores: bool) {
    if !withscores {
        out.array(items.len());
        for (m, _) in items {
            out.bulk(m);
        }
        return;
    }
    let nested = out.resp3();
    out.array(if nested { items.len() } else { 2 * items.len() });
    for (m, s) in items {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        reply_score(out, *s);
    }
}

// ---- commands ------------------------------------------------------------------------------

/// ```text
/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
/// ```
fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, false);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "NX") {
            nx = true;
        } else if is(a, "XX") {
            xx = true;
        } else if is(a, "CH") {
            ch = true;
        } else if is(a, "INCR") {
            incr = true;
        } else if is(a, "GT") {
            gt = true;
        } else if is(a, "LT") {
            lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &args[i..];
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return Err(CmdError::syntax());
    }
    if nx && xx {
        return Err(CmdError::err("XX and NX options at the same time are not compatible"));
    }
    if (gt || lt) && nx || (gt && lt) {
        return Err(CmdError::err("GT, LT, and/or NX options at the same time are not compatible"));
    }
    if incr && pairs.len() > 2 {
        return Err(CmdError::err("INCR option supports a single increment-element pair"));
    }
    let mut items = Vec::with_capacity(pairs.len() / 2);
    for p in pairs.chunks(2) {
        items.push((score_arg(&p[0])?, &p[1][..]));
    }
    let opts = ZAddOptions {
        condition: if nx {
            ZCondition::IfAbsent
        } else if xx {
            ZCondition::IfPresent
        } else {
            ZCondition::Always
        },
        compare: if gt {
            ZCompare::Greater
        } else if lt {
            ZCompare::Less
        } else {
            ZCompare::Any
        },
        changed: ch,
    };
    let key = ctx.key(&args[1]);
    if incr {
        let (delta, member) = items[0];
        let r = ctx.srv.colls.zadd_incr(&key, delta, member, opts)?;
        reply_opt_score(ctx.out, r);
    } else {
        let n = ctx.srv.colls.zadd_with(&key, &items, opts)?;
        ctx.out.int(n as i64);
    }
    ctx.signal_ready(&args[1]);
    Ok(())
}

/// ```text
/// ZINCRBY key increment member
/// ```
fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // Redis runs ZINCRBY through ZADD's parser (as ZADD INCR): a ZADD flag where the
    // increment goes is taken as a flag, which leaves one argument for a score-member pair.
    if ["nx", "xx", "gt", "lt", "ch", "incr"].iter().any(|f| args[2].eq_ignore_ascii_case(f.as_bytes())) {
        return Err(CmdError::syntax());
    }
    let delta = score_arg(&args[2])?;
    let score = ctx.srv.colls.zincr_by(&ctx.key(&args[1]), delta, &args[3])?;
    reply_score(ctx.out, score);
    ctx.signal_ready(&args[1]);
    Ok(())
}

/// ```text
/// ZREM key member [member ...]
/// ```
fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.colls.zrem(&ctx.key(&args[1]), &args[2..])?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// ZCARD key
/// ```
fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.colls.zcard(&ctx.key(&args[1]))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// ZSCORE key member
/// ```
fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let s = ctx.srv.colls.zscore(&ctx.key(&args[1]), &args[2])?;
    reply_opt_score(ctx.out, s);
    Ok(())
}

/// ```text
/// ZMSCORE key member [member ...]
/// ```
fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scores = ctx.srv.colls.zmscore(&ctx.key(&args[1]), &args[2..])?;
    ctx.out.array(scores.len());
    for s in scores {
        reply_opt_score(ctx.out, s);
    }
    Ok(())
}

fn rank(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    match ctx.srv.colls.zrank(&ctx.key(&args[1]), &args[2], rev)? {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ```text
/// ZRANK key member
/// ```
fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, false)
}

/// ```text
/// ZREVRANK key member
/// ```
fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, true)
}

/// ```text
/// ZCOUNT key min max
/// ```
fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (min, max) = score_range(&args[2], &args[3])?;
    let n = ctx.srv.colls.zcount(&ctx.key(&args[1]), min, max)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// ZLEXCOUNT key min max
/// ```
fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (min, max) = lex_range(&args[2], &args[3])?;
    let n = ctx.srv.colls.zlexcount(&ctx.key(&args[1]), &min, &max)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// How a ZRANGE-family command selects members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// ZRANGE, ZRANGESTORE and the older forms, as Redis's `zrangeGenericCommand`: `at` is the
/// source key's position; `kind`/`rev` are fixed by the older forms (`None`: from options).
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    at: usize,
    store: bool,
    mut kind: Option<Kind>,
    mut rev: Option<bool>,
) -> CmdResult {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = at + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if !store && is(a, "WITHSCORES") {
            withscores = true;
        } else if is(a, "LIMIT") && left >= 2 {
            offset = int_arg(&args[j + 1])?;
            limit = int_arg(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "REV") {
            rev = Some(true);
        } else if kind.is_none() && is(a, "BYLEX") {
            kind = Some(Kind::Lex);
        } else if kind.is_none() && is(a, "BYSCORE") {
            kind = Some(Kind::Score);
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let kind = kind.unwrap_or(Kind::Rank);
    if limit != -1 && kind == Kind::Rank {
        return Err(CmdError::err("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"));
    }
    if withscores && kind == Kind::Lex {
        return Err(CmdError::err("syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut lo, mut hi) = (&args[at + 1], &args[at + 2]);
    if rev && kind != Kind::Rank {
        // The range is given as max, min.
        std::mem::swap(&mut lo, &mut hi);
    }
    let by = match kind {
        Kind::Rank => ZRangeBy::Rank(int_arg(lo)?, int_arg(hi)?),
        Kind::Score => {
            let (a, b) = score_range(lo, hi)?;
            ZRangeBy::Score(a, b)
        }
        Kind::Lex => {
            let (a, b) = lex_range(lo, hi)?;
            ZRangeBy::Lex(a, b)
        }
    };
    // Redis skips a negative offset's worth of members without end: nothing is left.
    let (offset, limit) = if offset < 0 { (0, Some(0)) } else { (offset as usize, usize::try_from(limit).ok()) };
    let src = ctx.key(&args[at]);
    if store {
        let n = ctx.srv.colls.zrange_store(&ctx.key(&args[1]), &src, &by, rev, offset, limit)?;
        ctx.out.int(n as i64);
        if n > 0 {
            ctx.signal_ready(&args[1]);
        }
    } else {
        let items = ctx.srv.colls.zrange(&src, &by, rev, offset, limit)?;
        reply_members(ctx.out, &items, withscores);
    }
    Ok(())
}

/// ```text
/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
/// ```
fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, None, None)
}

/// ```text
/// ZREVRANGE key start stop [WITHSCORES]
/// ```
fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(Kind::Rank), Some(true))
}

/// ```text
/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
/// ```
fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(Kind::Score), Some(false))
}

/// ```text
/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
/// ```
fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(Kind::Score), Some(true))
}

/// ```text
/// ZRANGEBYLEX key min max [LIMIT offset count]
/// ```
fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(Kind::Lex), Some(false))
}

/// ```text
/// ZREVRANGEBYLEX key max min [LIMIT offset count]
/// ```
fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(Kind::Lex), Some(true))
}

/// ```text
/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
/// ```
fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 2, true, None, None)
}

fn zrem_range(ctx: &mut Ctx<'_>, args: &[Bytes], by: ZRangeBy) -> CmdResult {
    let n = ctx.srv.colls.zrem_range(&ctx.key(&args[1]), &by)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// ZREMRANGEBYSCORE key min max
/// ```
fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (min, max) = score_range(&args[2], &args[3])?;
    zrem_range(ctx, args, ZRangeBy::Score(min, max))
}

/// ```text
/// ZREMRANGEBYRANK key start stop
/// ```
fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    zrem_range(ctx, args, ZRangeBy::Rank(start, stop))
}

/// ```text
/// ZREMRANGEBYLEX key min max
/// ```
fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (min, max) = lex_range(&args[2], &args[3])?;
    zrem_range(ctx, args, ZRangeBy::Lex(min, max))
}

fn zpop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::syntax());
    }
    let count = if args.len() == 3 { Some(positive_count(&args[2])?) } else { None };
    let n = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let items = ctx.srv.colls.zpop(&ctx.key(&args[1]), n, max)?;
    // Without a count the reply is flat [member, score] even in RESP3.
    if count.is_none() && ctx.out.resp3() {
        ctx.out.array(2 * items.len());
        for (m, s) in &items {
            ctx.out.bulk(m);
            reply_score(ctx.out, *s);
        }
    } else {
        reply_members(ctx.out, &items, true);
    }
    Ok(())
}

/// ```text
/// ZPOPMIN key [count]
/// ```
fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, false)
}

/// ```text
/// ZPOPMAX key [count]
/// ```
fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, true)
}

/// Pops the lowest (highest with `max`) member of the first non-empty sorted set of `keys`
/// (in database `db`), replying `[key, member, score]`, and returns the position in `keys`
/// of the set it popped from. `strict` (the command's own call) fails on a key of another
/// type, as Redis does; a retry for a blocked client skips it.
fn pop_first(
    srv: &Shared,
    db: u8,
    keys: &[Bytes],
    max: bool,
    strict: bool,
    out: &mut Reply,
) -> Result<Option<usize>, CmdError> {
    for (i, k) in keys.iter().enumerate() {
        let items = match srv.colls.zpop(&db_key(db, k), 1, max) {
            Ok(items) => items,
            Err(pmemkv::Error::WrongType) if !strict => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some((m, s)) = items.first() {
            out.array(3);
            out.bulk(k);
            out.bulk(m);
            reply_score(out, *s);
            return Ok(Some(i));
        }
    }
    Ok(None)
}

fn serve_bzpopmin(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    Ok(Served::when(pop_first(srv, db, &args[1..args.len() - 1], false, false, out)?.is_some()))
}

fn serve_bzpopmax(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    Ok(Served::when(pop_first(srv, db, &args[1..args.len() - 1], true, false, out)?.is_some()))
}

fn bzpop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    let timeout = timeout_arg(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    if let Some(i) = pop_first(ctx.srv, ctx.s.db, keys, max, true, ctx.out)? {
        // For WATCH: only the sorted set popped from changed.
        ctx.s.changed_keys = Some(vec![keys[i].clone()]);
        return Ok(());
    }
    ctx.block(BlockRequest {
        keys: keys.to_vec(),
        timeout,
        serve: if max { serve_bzpopmax } else { serve_bzpopmin },
        on_timeout: Reply::null_array,
    });
    Ok(())
}

/// ```text
/// BZPOPMIN key [key ...] timeout
/// ```
fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, false)
}

/// ```text
/// BZPOPMAX key [key ...] timeout
/// ```
fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, true)
}

fn zstore(ctx: &mut Ctx<'_>, args: &[Bytes], op: ZStoreOp, name: &str) -> CmdResult {
    let setnum = int_arg(&args[2])?;
    if setnum < 1 {
        return Err(CmdError::err(format_args!("at least 1 input key is needed for '{name}' command")));
    }
    if setnum as u64 > (args.len() - 3) as u64 {
        return Err(CmdError::syntax());
    }
    let n = setnum as usize;
    let keys: Vec<Vec<u8>> = args[3..3 + n].iter().map(|k| ctx.key(k)).collect();
    // Redis checks the inputs' types before it parses the options (the engine checks again
    // atomically when it runs).
    for k in &keys {
        if ctx.srv.colls.key_type(k)?.is_some_and(|t| t != KeyType::Set && t != KeyType::ZSet) {
            return Err(CmdError::wrong_type());
        }
    }
    let mut weights = vec![1.0; n];
    let mut agg = Aggregate::Sum;
    let mut j = 3 + n;
    while j < args.len() {
        let remaining = args.len() - j;
        if remaining > n && is(&args[j], "WEIGHTS") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = string2d(&args[j + 1 + i]).ok_or_else(|| CmdError::err("weight value is not a float"))?;
            }
            j += n + 1;
        } else if remaining >= 2 && is(&args[j], "AGGREGATE") {
            let a = &args[j + 1];
            agg = if is(a, "SUM") {
                Aggregate::Sum
            } else if is(a, "MIN") {
                Aggregate::Min
            } else if is(a, "MAX") {
                Aggregate::Max
            } else {
                return Err(CmdError::syntax());
            };
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let sources: Vec<(&[u8], f64)> = keys.iter().map(Vec::as_slice).zip(weights).collect();
    let count = ctx.srv.colls.zstore(&ctx.key(&args[1]), op, &sources, agg)?;
    ctx.out.int(count as i64);
    if count > 0 {
        ctx.signal_ready(&args[1]);
    }
    Ok(())
}

/// ```text
/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]
///     [AGGREGATE SUM | MIN | MAX]
/// ```
fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zstore(ctx, args, ZStoreOp::Union, "zunionstore")
}

/// ```text
/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]
///     [AGGREGATE SUM | MIN | MAX]
/// ```
fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zstore(ctx, args, ZStoreOp::Inter, "zinterstore")
}

/// ```text
/// ZSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cursor = scan_cursor(&args[2])?;
    let key = ctx.key(&args[1]);
    // As SSCAN: a missing key ends the scan before the options are looked at.
    if ctx.srv.colls.key_type(&key)?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    ctx.srv.colls.zcard(&key)?;
    let opts = scan_opts(&args[3..])?;
    let position = scan_position(ctx, cursor);
    let page = ctx.srv.colls.zscan(&key, &position, opts.count)?;
    let items: Vec<&(Vec<u8>, f64)> = page.items.iter().filter(|(m, _)| scan_match(&opts, m)).collect();
    let next = next_cursor(ctx, page.cursor);
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(2 * items.len());
    for (m, s) in items {
        ctx.out.bulk(m);
        ctx.out.bulk(format_score(*s).as_bytes());
    }
    Ok(())
}

/// ```text
/// ZRANDMEMBER key [count [WITHSCORES]]
/// ```
fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    if args.len() == 2 {
        let got = ctx.srv.colls.zrandmember(&key, 1)?;
        ctx.out.opt_bulk(got.first().map(|(m, _)| m.as_slice()));
        return Ok(());
    }
    let count = long_in_range(&args[2], -i64::MAX, i64::MAX, None)?;
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "WITHSCORES")) {
        return Err(CmdError::syntax());
    }
    let withscores = args.len() == 4;
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::err("value is out of range"));
    }
    let items = ctx.srv.colls.zrandmember(&key, count)?;
    reply_members(ctx.out, &items, withscores);
    Ok(())
}

/// Most members of a sorted set Redis keeps as a listpack (`zset-max-listpack-entries`).
const LISTPACK_ENTRIES: u64 = 128;
/// Longest member of a sorted set Redis keeps as a listpack (`zset-max-listpack-value`).
const LISTPACK_VALUE: usize = 64;

/// The encoding Redis would report for sorted set `key` (`OBJECT ENCODING`): `listpack` while
/// it is small (at most 128 members of at most 64 bytes), else `skiplist`. Judged from the
/// set as it is now (Redis never converts back after shrinking). O(1) for a large set.
pub fn object_encoding(colls: &pmemkv::Collections, key: &[u8]) -> Result<&'static str, CmdError> {
    if colls.zcard(key)? > LISTPACK_ENTRIES {
        return Ok("skiplist");
    }
    let small = colls.zrange_by_rank(key, 0, -1, false)?.iter().all(|(m, _)| m.len() <= LISTPACK_VALUE);
    Ok(if small { "listpack" } else { "skiplist" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_format_like_redis_7_0() {
        for (d, s) in [
            (1.1, "1.1000000000000001"),
            (0.1 + 0.2, "0.30000000000000004"),
            (3.0, "3"),
            (16.0, "16"),
            (-2.5, "-2.5"),
            (1e300, "1.0000000000000001e+300"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123456789.0, "123456789"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            ("1e-310".parse().unwrap(), "9.9999999999999694e-311"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.0, "0"),
        ] {
            assert_eq!(format_score(d), s, "{d:e}");
        }
    }

    #[test]
    fn scores_parse_like_redis() {
        for (arg, v) in [
            (&b"1"[..], 1.0),
            (b"-1.5", -1.5),
            (b".5", 0.5),
            (b"1.", 1.0),
            (b"1e3", 1000.0),
            (b"1E+3", 1000.0),
            (b"0x10", 16.0),
            (b"0x1p-2", 0.25),
            (b"inf", f64::INFINITY),
            (b"-Infinity", f64::NEG_INFINITY),
            (b"+inf", f64::INFINITY),
            (b"1e-310", 1e-310),
        ] {
            assert_eq!(string2d(arg), Some(v), "{}", String::from_utf8_lossy(arg));
        }
        for bad in [&b""[..], b" 1", b"1 ", b"nan", b"abc", b"1e400", b"1e-400", b"0x", b"1e", b"--1", b"1\0"] {
            assert_eq!(string2d(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(score_bound(b""), Some(ScoreBound::Inclusive(0.0)));
        assert_eq!(score_bound(b"("), Some(ScoreBound::Exclusive(0.0)));
        assert_eq!(score_bound(b" 1"), Some(ScoreBound::Inclusive(1.0)));
        assert_eq!(score_bound(b"(-inf"), Some(ScoreBound::Exclusive(f64::NEG_INFINITY)));
        assert_eq!(score_bound(b"1e400"), Some(ScoreBound::Inclusive(f64::INFINITY)));
        assert_eq!(score_bound(b"x"), None);
        assert_eq!(score_bound(b"nan"), None);
        assert_eq!(lex_bound(b"-"), Some(LexBound::NegInf));
        assert_eq!(lex_bound(b"+x"), None);
        assert_eq!(lex_bound(b""), None);
        assert_eq!(lex_bound(b"["), Some(LexBound::Inclusive(Vec::new())));
    }
}
