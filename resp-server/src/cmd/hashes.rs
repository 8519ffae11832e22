//! Hash commands: HSET, HSETNX, HGET, HMGET, HMSET, HGETALL, HDEL, HLEN, HEXISTS, HKEYS,
//! HVALS, HINCRBY, HINCRBYFLOAT, HSTRLEN, HSCAN, HRANDFIELD.
//!
//! Every field is its own engine key, so a field read or write is O(log n) whatever the size
//! of the hash, and every write is one engine transaction. Replies, errors and edge cases
//! follow Redis 7.0's `t_hash.c`: the argument checks happen in the same order (so the same
//! error wins), a hash is deleted with its last field, `HGETALL` is a map in RESP3, and
//! `HRANDFIELD … WITHVALUES` nests pairs in RESP3.
//!
//! Orders follow Redis's encodings too. A *compact* hash (at most [`COMPACT_ENTRIES`] fields,
//! none of them or their values longer than [`COMPACT_VALUE`] bytes: Redis's listpack) lists
//! its fields in insertion order (`HGETALL`, `HKEYS`, `HVALS`, `HSCAN`, which returns it whole
//! with cursor 0, and `HRANDFIELD` as Redis's listpack code paths order their picks). A larger
//! hash (Redis's hash table, whose order is arbitrary) lists them in byte order, and `HSCAN`
//! pages through it with `COUNT`.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use pmemkv::collections::Rng;

use super::flags::*;
use super::long_double::{nan_or_infinity, LongDouble, NotFinite};
use super::{int_arg, is, Command, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::glob::{glob_match, matches_all};

macro_rules! hash_cmd {
    ($name:literal, $arity:expr, $flags:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: 1,
            last_key: 1,
            step: 1,
            group: "hash",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The hash family.
pub static COMMANDS: &[Command] = &[
    hash_cmd!(
        "hset",
        -4,
        WRITE | DENYOOM | FAST,
        "Creates or modifies the value of a field in a hash.",
        "2.0.0",
        hset
    ),
    hash_cmd!(
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        "Sets the value of a field in a hash only when the field doesn't exist.",
        "2.0.0",
        hsetnx
    ),
    hash_cmd!("hget", 3, READONLY | FAST, "Returns the value of a field in a hash.", "2.0.0", hget),
    hash_cmd!("hmget", -3, READONLY | FAST, "Returns the values of all fields in a hash.", "2.0.0", hmget),
    hash_cmd!("hmset", -4, WRITE | DENYOOM | FAST, "Sets the values of multiple fields.", "2.0.0", hmset),
    hash_cmd!("hgetall", 2, READONLY, "Returns all fields and values in a hash.", "2.0.0", hgetall),
    hash_cmd!(
        "hdel",
        -3,
        WRITE | FAST,
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        "2.0.0",
        hdel
    ),
    hash_cmd!("hlen", 2, READONLY | FAST, "Returns the number of fields in a hash.", "2.0.0", hlen),
    hash_cmd!("hexists", 3, READONLY | FAST, "Determines whether a field exists in a hash.", "2.0.0", hexists),
    hash_cmd!("hkeys", 2, READONLY, "Returns all fields in a hash.", "2.0.0", hkeys),
    hash_cmd!("hvals", 2, READONLY, "Returns all values in a hash.", "2.0.0", hvals),
    hash_cmd!(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        "2.0.0",
        hincrby
    ),
    hash_cmd!(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        "2.6.0",
        hincrbyfloat
    ),
    hash_cmd!("hstrlen", 3, READONLY | FAST, "Returns the length of the value of a field.", "3.2.0", hstrlen),
    hash_cmd!("hscan", -3, READONLY, "Iterates over fields and values of a hash.", "2.8.0", hscan),
    hash_cmd!("hrandfield", -2, READONLY, "Returns one or more random fields from a hash.", "6.2.0", hrandfield),
];

/// Redis keeps a hash in its compact listpack encoding (insertion order; `HSCAN` replies with
/// every field at once and cursor 0, whatever `COUNT` says) while it has at most this many
/// fields (`hash-max-listpack-entries`)…
pub const COMPACT_ENTRIES: usize = 128;
/// … and every field and value is at most this long (`hash-max-listpack-value`).
pub const COMPACT_VALUE: usize = 64;

/// The fields and values of a hash, as the engine returns them.
type Fields = Vec<(Vec<u8>, pmemkv::ValueRef)>;

/// The fields and values of hash `key` in insertion order if it is compact (see the module
/// documentation); an empty list for a missing key; `None` for a large hash.
fn compact(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Fields>, CmdError> {
    Ok(ctx.srv.colls.hgetall_compact(key, COMPACT_ENTRIES, COMPACT_VALUE)?)
}

/// The encoding Redis would report for hash `key` (`OBJECT ENCODING`): `listpack` while it
/// is compact, else `hashtable`. For the generic key family; O(1) for a large hash, O(128)
/// for a small one.
pub fn object_encoding(colls: &pmemkv::Collections, key: &[u8]) -> Result<&'static str, CmdError> {
    Ok(match colls.hgetall_compact(key, COMPACT_ENTRIES, COMPACT_VALUE)? {
        Some(_) => "listpack",
        None => "hashtable",
    })
}

/// Counts a key lookup in `keyspace_hits`/`keyspace_misses`, as Redis's read lookups do.
fn hit(ctx: &mut Ctx<'_>, found: bool) {
    super::strings::hit(ctx, found);
}

/// A field and its value, borrowed from the arguments.
type Pair<'a> = (&'a [u8], &'a [u8]);

fn set_pairs<'a>(args: &'a [Bytes], command: &str) -> Result<Vec<Pair<'a>>, CmdError> {
    // `HSET key` plus pairs: an odd argument count means a field without a value.
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::wrong_args(command));
    }
    Ok(args[2..].chunks(2).map(|p| (&p[0][..], &p[1][..])).collect())
}

/// ```text
/// HSET key field value [field value ...]
/// ```
fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pairs = set_pairs(args, "hset")?;
    let added = ctx.srv.colls.hset(&ctx.key(&args[1]), &pairs)?;
    ctx.out.int(added as i64);
    Ok(())
}

/// ```text
/// HMSET key field value [field value ...]
/// ```
fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pairs = set_pairs(args, "hmset")?;
    ctx.srv.colls.hset(&ctx.key(&args[1]), &pairs)?;
    ctx.out.ok();
    Ok(())
}

/// ```text
/// HSETNX key field value
/// ```
fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let set = ctx.srv.colls.hsetnx(&ctx.key(&args[1]), &args[2], &args[3])?;
    ctx.out.int(set as i64);
    Ok(())
}

/// ```text
/// HGET key field
/// ```
fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let v = ctx.srv.colls.hmget(&ctx.key(&args[1]), &args[2..3])?;
    hit(ctx, v.is_some());
    let v = v.and_then(|mut v| v.pop().flatten());
    ctx.out.opt_bulk(v.as_deref());
    Ok(())
}

/// ```text
/// HMGET key field [field ...]
/// ```
fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let fields = &args[2..];
    let vs = ctx.srv.colls.hmget(&ctx.key(&args[1]), fields)?;
    hit(ctx, vs.is_some());
    ctx.out.array(fields.len());
    match vs {
        // A missing key is an empty hash: every field is nil.
        None => (0..fields.len()).for_each(|_| ctx.out.null()),
        Some(vs) => vs.iter().for_each(|v| ctx.out.opt_bulk(v.as_deref())),
    }
    Ok(())
}

/// ```text
/// HGETALL key
/// ```
fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let all = match compact(ctx, &key)? {
        Some(all) => all,
        None => ctx.srv.colls.hgetall(&key)?,
    };
    hit(ctx, !all.is_empty());
    ctx.out.map(all.len());
    for (f, v) in &all {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}

/// ```text
/// HKEYS key
/// ```
fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let fields = match compact(ctx, &key)? {
        Some(all) => all.into_iter().map(|(f, _)| f).collect(),
        None => ctx.srv.colls.hkeys(&key)?,
    };
    hit(ctx, !fields.is_empty());
    ctx.out.bulks(&fields);
    Ok(())
}

/// ```text
/// HVALS key
/// ```
fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let vals = match compact(ctx, &key)? {
        Some(all) => all.into_iter().map(|(_, v)| v).collect(),
        None => ctx.srv.colls.hvals(&key)?,
    };
    hit(ctx, !vals.is_empty());
    ctx.out.bulks(&vals);
    Ok(())
}

/// ```text
/// HDEL key field [field ...]
/// ```
fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let removed = ctx.srv.colls.hdel(&ctx.key(&args[1]), &args[2..])?;
    ctx.out.int(removed as i64);
    Ok(())
}

/// ```text
/// HLEN key
/// ```
fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.colls.hlen(&ctx.key(&args[1]))?;
    hit(ctx, n > 0);
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// HEXISTS key field
/// ```
fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let v = ctx.srv.colls.hmget(&ctx.key(&args[1]), &args[2..3])?;
    hit(ctx, v.is_some());
    let found = v.is_some_and(|v| v.iter().all(Option::is_some));
    ctx.out.int(found as i64);
    Ok(())
}

/// ```text
/// HSTRLEN key field
/// ```
fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let v = ctx.srv.colls.hmget(&ctx.key(&args[1]), &args[2..3])?;
    hit(ctx, v.is_some());
    let len = v.and_then(|mut v| v.pop().flatten()).map_or(0, |v| v.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// ```text
/// HINCRBY key field increment
/// ```
fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = int_arg(&args[3])?;
    let n = ctx.srv.colls.hincr_by(&ctx.key(&args[1]), &args[2], delta)?;
    ctx.out.int(n);
    Ok(())
}

/// ```text
/// HINCRBYFLOAT key field increment
/// ```
fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = match LongDouble::parse(&args[3]) {
        Ok(d) => d,
        Err(NotFinite::Invalid) => return Err(CmdError::not_float()),
        Err(NotFinite::Infinite) => return Err(CmdError::err("value is NaN or Infinity")),
    };
    let text = ctx.srv.colls.hupdate(&ctx.key(&args[1]), &args[2], move |old| {
        let cur = match old {
            None => LongDouble::zero(),
            Some(b) => match LongDouble::parse(b) {
                Ok(v) => v,
                Err(NotFinite::Invalid) => {
                    return Err(pmemkv::Error::InvalidArgument("hash value is not a float".into()));
                }
                Err(NotFinite::Infinite) => return Err(nan_or_infinity()),
            },
        };
        let text = cur.add(&delta).map_err(|_| nan_or_infinity())?.to_human();
        Ok((Some(text.clone().into_bytes()), text))
    })?;
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// Tag byte of an `HSCAN` position in the server's cursor table (the stored key of the hash
/// and the engine's cursor follow), so that a cursor of another scan restarts this one.
const HSCAN_TAG: u8 = b'H';

/// Parses a scan cursor (see [`super::keys::parse_cursor`]).
fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    super::keys::parse_cursor(arg)
}

fn hscan_position(key: &[u8], engine_cursor: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(5 + key.len() + engine_cursor.len());
    p.push(HSCAN_TAG);
    p.extend_from_slice(&(key.len() as u32).to_be_bytes());
    p.extend_from_slice(key);
    p.extend_from_slice(engine_cursor);
    p
}

/// ```text
/// HSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cursor = parse_scan_cursor(&args[2])?;
    let key = ctx.key(&args[1]);
    let len = ctx.srv.colls.hlen(&key)?;
    hit(ctx, len > 0);
    if len == 0 {
        // Redis replies before looking at the options.
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::syntax());
        }
        if is(&args[i], "COUNT") {
            let n = int_arg(&args[i + 1])?;
            if n < 1 {
                return Err(CmdError::syntax());
            }
            count = n.min(1 << 20) as usize;
        } else if is(&args[i], "MATCH") {
            pattern = Some(&args[i + 1]).filter(|p| !matches_all(p)).map(|p| &p[..]);
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    // The engine cursor to resume from: empty (start) for cursor 0 and for cursors that are
    // unknown, evicted or of another scan.
    let own = hscan_position(&key, &[]);
    let resume = ctx.srv.cursors.get(cursor).and_then(|p| p.strip_prefix(own.as_slice()).map(<[u8]>::to_vec));
    let resume = resume.unwrap_or_default();
    // A compact hash comes back whole, in insertion order, whatever the cursor.
    let page = match compact(ctx, &key)? {
        Some(all) => pmemkv::collections::ScanResult { items: all, cursor: None },
        None => ctx.srv.colls.hscan(&key, &resume, count)?,
    };
    let next = match &page.cursor {
        Some(c) => ctx.srv.cursors.put(hscan_position(&key, c)),
        None => 0,
    };
    let items: Vec<_> = page.items.iter().filter(|(f, _)| pattern.is_none_or(|p| glob_match(p, f, false))).collect();
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(items.len() * 2);
    for (f, v) in items {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}

/// A fresh random seed (std's per-process random keys, mixed with a counter).
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// `HRANDFIELD` picks from a compact hash, as Redis's listpack code paths make them: `count`
/// picks in random order when they may repeat (`distinct` false); otherwise the whole hash in
/// insertion order if `count` covers it, a random subset in random order if `count` is more
/// than a third of it, and else a random subset in insertion order.
fn compact_picks<T: Clone>(all: &[T], count: u64, distinct: bool, rng: &mut Rng) -> Vec<T> {
    let n = all.len();
    if n == 0 || count == 0 {
        return Vec::new();
    }
    if !distinct {
        return (0..count).map(|_| all[rng.below(n as u64) as usize].clone()).collect();
    }
    if count >= n as u64 {
        return all.to_vec();
    }
    let count = count as usize;
    let mut idx: Vec<usize> = (0..n).collect();
    // A partial Fisher–Yates shuffle: the first `count` are a uniform random subset.
    for i in 0..count {
        let j = i + rng.below((n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(count);
    if count * 3 <= n {
        idx.sort_unstable();
    }
    idx.into_iter().map(|i| all[i].clone()).collect()
}

/// ```text
/// HRANDFIELD key [count [WITHVALUES]]
/// ```
fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let mut rng = Rng::new(seed());
    if args.len() == 2 {
        let picked: Vec<Vec<u8>> = match compact(ctx, &key)? {
            Some(all) => compact_picks(&all, 1, false, &mut rng).into_iter().map(|(f, _)| f).collect(),
            None => {
                ctx.srv.colls.hrandfield(&key, 1, false, false, rng.next_u64())?.into_iter().map(|(f, _)| f).collect()
            }
        };
        hit(ctx, !picked.is_empty());
        ctx.out.opt_bulk(picked.first().map(Vec::as_slice));
        return Ok(());
    }
    let l = int_arg(&args[2])?;
    if l == i64::MIN {
        return Err(CmdError::err(format_args!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "WITHVALUES")) {
        return Err(CmdError::syntax());
    }
    let with_values = args.len() == 4;
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::err("value is out of range"));
    }
    // A positive count asks for distinct fields; a negative one for picks that may repeat.
    // (Redis serves a count of 1 like a negative one; the result is the same.)
    let (count, distinct) = (l.unsigned_abs(), l >= 0);
    let all = compact(ctx, &key)?;
    if !distinct {
        return hrandfield_repeating(ctx, &key, all, count, with_values, &mut rng);
    }
    let picked: Vec<(Vec<u8>, Option<pmemkv::ValueRef>)> = match all {
        Some(all) => {
            compact_picks(&all, count, true, &mut rng).into_iter().map(|(f, v)| (f, with_values.then_some(v))).collect()
        }
        None => ctx.srv.colls.hrandfield(&key, count, true, with_values, rng.next_u64())?,
    };
    if count > 0 {
        hit(ctx, !picked.is_empty());
    }
    picks_header(ctx, picked.len(), with_values);
    for (f, v) in &picked {
        write_pick(ctx, f, v.as_deref(), with_values);
    }
    Ok(())
}

/// Writes the header of an `HRANDFIELD` reply of `n` picks: pairs are flat in RESP2 and
/// nested in RESP3.
fn picks_header(ctx: &mut Ctx<'_>, n: usize, with_values: bool) {
    let flat_pairs = with_values && !ctx.out.resp3();
    ctx.out.array(if flat_pairs { n * 2 } else { n });
}

/// Writes one `HRANDFIELD` pick (after [`picks_header`]); `value` is written if given.
fn write_pick(ctx: &mut Ctx<'_>, field: &[u8], value: Option<&[u8]>, with_values: bool) {
    if with_values && ctx.out.resp3() {
        ctx.out.array(2);
    }
    ctx.out.bulk(field);
    if let Some(v) = value {
        ctx.out.bulk(v);
    }
}

/// Picks a large hash serves per engine call when they may repeat.
const PICK_CHUNK: u64 = 1024;

/// `HRANDFIELD key -count [WITHVALUES]`: `count` picks that may repeat, written as they are
/// made (a huge count costs its reply, not a copy of it as well).
fn hrandfield_repeating(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    all: Option<Fields>,
    count: u64,
    with_values: bool,
    rng: &mut Rng,
) -> CmdResult {
    if let Some(all) = all {
        if count > 0 {
            hit(ctx, !all.is_empty());
        }
        let n = if all.is_empty() { 0 } else { count as usize };
        picks_header(ctx, n, with_values);
        for _ in 0..n {
            let (f, v) = &all[rng.below(all.len() as u64) as usize];
            write_pick(ctx, f, with_values.then_some(&v[..]), with_values);
        }
        return Ok(());
    }
    // A large hash: picks in chunks. The reply length is fixed by the header, so if the hash
    // shrinks or vanishes meanwhile, missing picks repeat earlier ones.
    let first = ctx.srv.colls.hrandfield(key, count.min(PICK_CHUNK), false, with_values, rng.next_u64())?;
    hit(ctx, !first.is_empty());
    if first.is_empty() {
        picks_header(ctx, 0, with_values);
        return Ok(());
    }
    picks_header(ctx, count as usize, with_values);
    let mut left = count;
    let mut chunk = first.clone();
    loop {
        let take = (left as usize).min(chunk.len());
        for (f, v) in &chunk[..take] {
            write_pick(ctx, f, v.as_deref(), with_values);
        }
        left -= take as u64;
        if left == 0 {
            return Ok(());
        }
        chunk = ctx.srv.colls.hrandfield(key, left.min(PICK_CHUNK), false, with_values, rng.next_u64())?;
        if chunk.is_empty() {
            chunk = first.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_picks_follow_redis_listpack_paths() {
        let all: Vec<u32> = (0..12).collect();
        let mut rng = Rng::new(7);
        assert_eq!(compact_picks(&all, 12, true, &mut rng), all, "the whole hash in order");
        assert_eq!(compact_picks(&all, 99, true, &mut rng), all);
        assert!(compact_picks(&all, 0, true, &mut rng).is_empty());
        assert!(compact_picks(&[] as &[u32], 3, false, &mut rng).is_empty());
        assert_eq!(compact_picks(&all, 1000, false, &mut rng).len(), 1000);
        let mut unordered = false;
        for _ in 0..50 {
            // Few picks (3·count <= size): distinct, in insertion order.
            let few = compact_picks(&all, 4, true, &mut rng);
            assert!(few.windows(2).all(|w| w[0] < w[1]), "{few:?}");
            // Many picks: distinct, in random order.
            let mut many = compact_picks(&all, 9, true, &mut rng);
            unordered |= many.windows(2).any(|w| w[0] > w[1]);
            many.sort_unstable();
            many.dedup();
            assert_eq!(many.len(), 9);
        }
        assert!(unordered);
    }

    #[test]
    fn scan_cursors_parse_like_strtoul() {
        assert_eq!(parse_scan_cursor(b"0"), Ok(0));
        assert_eq!(parse_scan_cursor(b""), Ok(0));
        assert_eq!(parse_scan_cursor(b"007"), Ok(7));
        assert_eq!(parse_scan_cursor(b"+5"), Ok(5));
        assert_eq!(parse_scan_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_scan_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [&b"18446744073709551616"[..], b"-", b"+", b" 1", b"1 ", b"abc", b"1.5", b"0x10"] {
            assert_eq!(parse_scan_cursor(bad), Err(CmdError::err("invalid cursor")), "{:?}", super::super::show(bad));
        }
    }
}
