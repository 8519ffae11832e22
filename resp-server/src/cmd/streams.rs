//! Stream commands: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XREAD, XREADGROUP,
//! XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO.
//!
//! Streams are the platform's event archive; consumer groups hand events to processors. The
//! group state (last-delivered id, consumers, pending entries) lives in the engine and
//! changes in the same transaction as the read, ack or claim that changes it, so it survives
//! a crash like the entries do (see `pmemkv::collections::stream`).
//!
//! `XREAD BLOCK` and `XREADGROUP BLOCK` block through [`crate::blocking`]: `XADD` signals the
//! key ready, and a blocked reader retries on its own behalf. `XREAD … $` is resolved to the
//! stream's last id when the client blocks: the retried arguments carry the resolved id
//! (`Session::blocked_args`, set before blocking).

use std::ops::Bound;

use bytes::Bytes;
use pmemkv::collections::{
    ClaimOptions, GroupCreate, GroupEntry, GroupOutcome, GroupRead, StreamEntry, StreamId, StreamTrim, TrimStrategy,
    XAddId, XAddOptions,
};

use super::flags::*;
use super::{check_sub, int_arg, is, show, show_all, subcommand_syntax, Command, Ctx};
use crate::blocking::{BlockRequest, Served};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::db_key;
use crate::protocol::reply::Reply;
use crate::shared::Shared;

macro_rules! stream_cmd {
    ($name:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            group: "stream",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The stream family.
pub static COMMANDS: &[Command] = &[
    stream_cmd!("xadd", -5, WRITE | DENYOOM | FAST, 1, 1, 1, "Appends a new message to a stream. Creates the key if it doesn't exist.", "5.0.0", xadd),
    stream_cmd!("xlen", 2, READONLY | FAST, 1, 1, 1, "Return the number of messages in a stream.", "5.0.0", xlen),
    stream_cmd!("xrange", -4, READONLY, 1, 1, 1, "Returns the messages from a stream within a range of IDs.", "5.0.0", xrange),
    stream_cmd!("xrevrange", -4, READONLY, 1, 1, 1, "Returns the messages from a stream within a range of IDs in reverse order.", "5.0.0", xrevrange),
    stream_cmd!("xdel", -3, WRITE | FAST, 1, 1, 1, "Returns the number of messages after removing them from a stream.", "5.0.0", xdel),
    stream_cmd!("xtrim", -4, WRITE, 1, 1, 1, "Deletes messages from the beginning of a stream.", "5.0.0", xtrim),
    stream_cmd!("xsetid", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "An internal command for replicating stream values.", "5.0.0", xsetid),
    stream_cmd!("xread", -4, READONLY | BLOCKING, 0, 0, 0, "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", "5.0.0", xread),
    stream_cmd!("xreadgroup", -7, WRITE | BLOCKING, 0, 0, 0, "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", "5.0.0", xreadgroup),
    stream_cmd!("xgroup", -2, 0, 0, 0, 0, "A container for consumer groups commands.", "5.0.0", xgroup),
    stream_cmd!("xack", -4, WRITE | FAST, 1, 1, 1, "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", "5.0.0", xack),
    stream_cmd!("xpending", -3, READONLY, 1, 1, 1, "Returns the information and entries from a stream consumer group's pending entries list.", "5.0.0", xpending),
    stream_cmd!("xclaim", -6, WRITE | FAST, 1, 1, 1, "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", "5.0.0", xclaim),
    stream_cmd!("xautoclaim", -6, WRITE | FAST, 1, 1, 1, "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", "6.2.0", xautoclaim),
    stream_cmd!("xinfo", -2, 0, 0, 0, 0, "A container for stream introspection commands.", "5.0.0", xinfo),
];

// ---- ids -----------------------------------------------------------------------------------

/// `ERR Invalid stream ID specified as stream command argument`.
fn invalid_id() -> CmdError {
    CmdError::err("Invalid stream ID specified as stream command argument")
}

/// C's `strtoull` as Redis's `string2ull` uses it: optional leading spaces and `+`, decimal
/// digits, no overflow.
fn parse_u64(s: &[u8]) -> Option<u64> {
    let mut s = s;
    while let Some((&c, rest)) = s.split_first() {
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            s = rest;
        } else {
            break;
        }
    }
    if let Some(rest) = s.strip_prefix(b"+") {
        s = rest;
    }
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Redis's `streamGenericParseIDOrReply`: `ms-seq`, `ms` (sequence `missing_seq`), and unless
/// `strict`, `-` and `+`.
fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, CmdError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    // Redis copies the id into a C string: a NUL byte ends it.
    let arg = until_nul(arg);
    match arg {
        b"-" if !strict => return Ok(StreamId::MIN),
        b"+" if !strict => return Ok(StreamId::MAX),
        b"-" | b"+" => return Err(invalid_id()),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&c| c == b'-') {
        Some(p) => (parse_u64(&arg[..p]), parse_u64(&arg[p + 1..])),
        None => (parse_u64(arg), Some(missing_seq)),
    };
    match (ms, seq) {
        (Some(ms), Some(seq)) => Ok(StreamId::new(ms, seq)),
        _ => Err(invalid_id()),
    }
}

/// A strict id (no `-`/`+`), missing sequence 0.
fn strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    parse_id(arg, 0, true)
}

/// One end of an interval (`XRANGE`, `XPENDING`, `XAUTOCLAIM`): `(` makes it exclusive, which
/// is turned into the next (start) or previous (end) id, as Redis does.
fn interval_id(arg: &[u8], start: bool) -> Result<StreamId, CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id(&arg[1..], if start { 0 } else { u64::MAX }, true)?;
        let moved = if start { id.successor() } else { predecessor(id) };
        moved.ok_or_else(|| {
            CmdError::err(if start { "invalid start ID for the interval" } else { "invalid end ID for the interval" })
        })
    } else {
        parse_id(arg, if start { 0 } else { u64::MAX }, false)
    }
}

fn predecessor(id: StreamId) -> Option<StreamId> {
    match id.seq.checked_sub(1) {
        Some(seq) => Some(StreamId::new(id.ms, seq)),
        None => id.ms.checked_sub(1).map(|ms| StreamId::new(ms, u64::MAX)),
    }
}

fn id_text(id: StreamId) -> String {
    id.to_string()
}

// ---- replies -------------------------------------------------------------------------------

fn reply_id(out: &mut Reply, id: StreamId) {
    out.bulk(id_text(id).as_bytes());
}

fn reply_fields(out: &mut Reply, fields: &[(Vec<u8>, Vec<u8>)]) {
    out.array(fields.len() * 2);
    for (f, v) in fields {
        out.bulk(f);
        out.bulk(v);
    }
}

fn reply_entry(out: &mut Reply, e: &StreamEntry) {
    out.array(2);
    reply_id(out, e.id);
    reply_fields(out, &e.fields);
}

fn reply_entries(out: &mut Reply, entries: &[StreamEntry]) {
    out.array(entries.len());
    for e in entries {
        reply_entry(out, e);
    }
}

fn reply_group_entries(out: &mut Reply, entries: &[GroupEntry]) {
    out.array(entries.len());
    for e in entries {
        out.array(2);
        reply_id(out, e.id);
        match &e.fields {
            Some(f) => reply_fields(out, f),
            None => out.null_array(),
        }
    }
}

// ---- XADD, XLEN, XRANGE, XDEL, XTRIM, XSETID ---------------------------------------------

/// Parsed `MAXLEN`/`MINID`/`LIMIT`/`NOMKSTREAM` options (Redis's
/// `streamParseAddOrTrimArgsOrReply`); returns the options and, for XADD, the position of
/// the id argument.
fn parse_trim_args(args: &[Bytes], xadd: bool) -> Result<(Option<StreamTrim>, bool, usize), CmdError> {
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<u64> = None;
    let mut no_mkstream = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                return Err(CmdError::err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            approx = false;
            let next = &args[i + 1];
            if more >= 2 && next.as_ref() == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && next.as_ref() == b"=" {
                i += 1;
            }
            if is(opt, "maxlen") {
                let n = int_arg(&args[i + 1])?;
                if n < 0 {
                    return Err(CmdError::err("The MAXLEN argument must be >= 0."));
                }
                strategy = Some(TrimStrategy::MaxLen(n as u64));
            } else {
                strategy = Some(TrimStrategy::MinId(strict_id(&args[i + 1])?));
            }
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            let n = int_arg(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("The LIMIT argument must be >= 0."));
            }
            limit = Some(n as u64);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            no_mkstream = true;
        } else if xadd {
            // The id: its syntax is checked here, before the options' combination, as
            // Redis does.
            xadd_id(opt)?;
            break;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    if limit.is_some_and(|l| l > 0) && strategy.is_none() {
        return Err(CmdError::err("syntax error, LIMIT cannot be used without specifying a trimming strategy"));
    }
    if !xadd && strategy.is_none() {
        return Err(CmdError::err("syntax error, XTRIM must be called with a trimming strategy"));
    }
    if limit.is_some() && !approx {
        return Err(CmdError::err("syntax error, LIMIT cannot be used without the special ~ option"));
    }
    let limit = match (approx, limit) {
        (true, Some(l)) => l,
        (true, None) => 100 * pmemkv::collections::stream::APPROX_NODE_ENTRIES as u64,
        (false, _) => 0,
    };
    Ok((strategy.map(|strategy| StreamTrim { strategy, approx, limit }), no_mkstream, i))
}

/// The bytes of `arg` before its first NUL (what C string functions see).
fn until_nul(arg: &[u8]) -> &[u8] {
    &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())]
}

/// XADD's id argument: `*`, `<ms>-*` or an explicit id.
fn xadd_id(arg: &[u8]) -> Result<XAddId, CmdError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    let arg = until_nul(arg);
    Ok(if arg == b"*" {
        XAddId::Auto
    } else if let Some(ms) = arg.strip_suffix(b"-*") {
        XAddId::AutoSeq(parse_u64(ms).ok_or_else(invalid_id)?)
    } else {
        XAddId::Explicit(strict_id(arg)?)
    })
}

/// ```text
/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]
/// ```
fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (trim, no_mkstream, idpos) = parse_trim_args(args, true)?;
    if idpos >= args.len() {
        return Err(CmdError::wrong_args("xadd"));
    }
    // Redis's order: the ID's syntax (checked while the options were parsed), then the
    // number of field arguments, then 0-0.
    let id = xadd_id(&args[idpos])?;
    let rest = args.len() - (idpos + 1);
    if rest < 2 || !rest.is_multiple_of(2) {
        return Err(CmdError::wrong_args("xadd"));
    }
    if id == XAddId::Explicit(StreamId::MIN) {
        return Err(CmdError::err("The ID specified in XADD must be greater than 0-0"));
    }
    let fields: Vec<(&[u8], &[u8])> = args[idpos + 1..].chunks(2).map(|p| (p[0].as_ref(), p[1].as_ref())).collect();
    let opts = XAddOptions { no_mkstream, trim, ..Default::default() };
    let key = ctx.key(&args[1]);
    match ctx.srv.colls.xadd_with(&key, id, &fields, opts)? {
        Some(id) => {
            reply_id(ctx.out, id);
            ctx.signal_ready(&args[1]);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// ```text
/// XLEN key
/// ```
fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.colls.xlen(&ctx.key(&args[1]))?;
    ctx.out.int(n as i64);
    Ok(())
}

fn range_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (&args[3], &args[2]) } else { (&args[2], &args[3]) };
    let start = interval_id(start_arg, true)?;
    let end = interval_id(end_arg, false)?;
    let mut count: Option<i64> = None;
    let mut j = 4;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            count = Some(int_arg(&args[j + 1])?.max(0));
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let key = ctx.key(&args[1]);
    let c = &ctx.srv.colls;
    if count == Some(0) {
        // Redis checks the key (and its type) first, then answers a null array.
        if c.stream_info(&key)?.is_none() {
            ctx.out.array(0);
        } else {
            ctx.out.null_array();
        }
        return Ok(());
    }
    let n = count.map(|n| n as usize);
    let entries = if start > end {
        c.stream_info(&key)?;
        Vec::new()
    } else if rev {
        c.xrevrange(&key, Bound::Included(start), Bound::Included(end), n)?
    } else {
        c.xrange(&key, Bound::Included(start), Bound::Included(end), n)?
    };
    reply_entries(ctx.out, &entries);
    Ok(())
}

/// ```text
/// XRANGE key start end [COUNT count]
/// ```
fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_cmd(ctx, args, false)
}

/// ```text
/// XREVRANGE key end start [COUNT count]
/// ```
fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_cmd(ctx, args, true)
}

/// ```text
/// XDEL key id [id ...]
/// ```
fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    if ctx.srv.colls.stream_info(&key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[2..].iter().map(|a| strict_id(a)).collect::<Result<Vec<_>, _>>()?;
    let n = ctx.srv.colls.xdel(&key, &ids)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
/// ```
fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (trim, _, _) = parse_trim_args(args, false)?;
    let trim = trim.expect("XTRIM parsing requires a strategy");
    let n = ctx.srv.colls.xtrim(&ctx.key(&args[1]), trim)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
/// ```
fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let id = strict_id(&args[2])?;
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "entriesadded") && more > 0 {
            let n = int_arg(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is(&args[i], "maxdeletedid") && more > 0 {
            let d = strict_id(&args[i + 1])?;
            if id < d {
                return Err(CmdError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted = Some(d);
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    if !ctx.srv.colls.xsetid(&ctx.key(&args[1]), id, entries_added, max_deleted)? {
        return Err(CmdError::no_such_key());
    }
    ctx.out.ok();
    Ok(())
}

// ---- XREAD, XREADGROUP ---------------------------------------------------------------------

/// Parsed `XREAD`/`XREADGROUP` arguments.
struct ReadArgs<'a> {
    /// `BLOCK` in ms (`Some(0)`: forever).
    block: Option<u64>,
    /// `COUNT` (0: no limit).
    count: usize,
    group: Option<(&'a Bytes, &'a Bytes)>,
    noack: bool,
    /// Index of the first key.
    streams: usize,
    /// Number of keys.
    n: usize,
}

impl ReadArgs<'_> {
    fn keys<'b>(&self, args: &'b [Bytes]) -> &'b [Bytes] {
        &args[self.streams..self.streams + self.n]
    }

    fn ids<'b>(&self, args: &'b [Bytes]) -> &'b [Bytes] {
        &args[self.streams + self.n..]
    }
}

fn parse_read(args: &[Bytes], xreadgroup: bool) -> Result<ReadArgs<'_>, CmdError> {
    let mut r = ReadArgs { block: None, count: 0, group: None, noack: false, streams: 0, n: 0 };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if is(o, "block") && more > 0 {
            i += 1;
            let t = crate::protocol::request::parse_int(&args[i])
                .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(CmdError::err("timeout is negative"));
            }
            r.block = Some(t as u64);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = int_arg(&args[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            r.streams = i + 1;
            let rest = args.len() - r.streams;
            if !rest.is_multiple_of(2) {
                return Err(CmdError::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.n = rest / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(CmdError::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((&args[i + 1], &args[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !xreadgroup {
                return Err(CmdError::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    if r.streams == 0 {
        return Err(CmdError::syntax());
    }
    if xreadgroup && r.group.is_none() {
        return Err(CmdError::err("Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// What one key of an `XREAD` asks for.
#[derive(Clone, Copy)]
enum ReadFrom {
    /// Entries after this id.
    After(StreamId),
    /// `XREADGROUP`: `>` or an explicit id.
    Group(GroupRead),
}

fn nogroup_read(key: &[u8], group: &[u8]) -> CmdError {
    CmdError(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        show_all(key),
        show_all(group)
    ))
}

/// Resolves each key's id (checking types and groups first, as Redis does).
fn resolve_ids(srv: &Shared, db: u8, args: &[Bytes], r: &ReadArgs<'_>) -> Result<Vec<ReadFrom>, CmdError> {
    let mut out = Vec::with_capacity(r.n);
    for (k, id) in r.keys(args).iter().zip(r.ids(args)) {
        let key = db_key(db, k);
        let info = srv.colls.stream_info(&key)?;
        if let Some((g, _)) = r.group {
            let exists = info.is_some() && srv.colls.stream_group(&key, g)?.done().is_some();
            if !exists {
                return Err(nogroup_read(k, g));
            }
        }
        let from = match id.as_ref() {
            b"$" if r.group.is_some() => {
                return Err(CmdError::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ))
            }
            b"$" => ReadFrom::After(info.map_or(StreamId::MIN, |i| i.last_id)),
            b">" if r.group.is_none() => {
                return Err(CmdError::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            b">" => ReadFrom::Group(GroupRead::New),
            _ => {
                let id = strict_id(id)?;
                if r.group.is_some() {
                    ReadFrom::Group(GroupRead::History(id))
                } else {
                    ReadFrom::After(id)
                }
            }
        };
        out.push(from);
    }
    Ok(out)
}

/// Reads one key; `None` if there is nothing to serve for it (a `>` or `XREAD` with no newer
/// entries; history reads always serve, possibly an empty list).
fn read_key(
    srv: &Shared,
    db: u8,
    k: &[u8],
    from: ReadFrom,
    count: usize,
    r: &ReadArgs<'_>,
) -> Result<Option<Vec<GroupEntry>>, CmdError> {
    let key = db_key(db, k);
    let n = (count > 0).then_some(count);
    match from {
        ReadFrom::After(id) => {
            let entries = srv.colls.xrange(&key, Bound::Excluded(id), Bound::Unbounded, n)?;
            Ok((!entries.is_empty())
                .then(|| entries.into_iter().map(|e| GroupEntry { id: e.id, fields: Some(e.fields) }).collect()))
        }
        ReadFrom::Group(read) => {
            let (g, c) = r.group.expect("group reads have a group");
            match srv.colls.xreadgroup(&key, g, c, read, n, r.noack)? {
                GroupOutcome::Done(entries) => {
                    Ok((matches!(read, GroupRead::History(_)) || !entries.is_empty()).then_some(entries))
                }
                _ => Err(CmdError("NOGROUP the consumer group this client was blocked on no longer exists".into())),
            }
        }
    }
}

fn reply_read(out: &mut Reply, served: &[(&Bytes, Vec<GroupEntry>)]) {
    if out.resp3() {
        out.map(served.len());
    } else {
        out.array(served.len());
    }
    for (k, entries) in served {
        if !out.resp3() {
            out.array(2);
        }
        out.bulk(k);
        reply_group_entries(out, entries);
    }
}

fn read_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], xreadgroup: bool) -> CmdResult {
    let r = parse_read(args, xreadgroup)?;
    let froms = resolve_ids(ctx.srv, ctx.s.db, args, &r)?;
    let mut served = Vec::new();
    for (k, &from) in r.keys(args).iter().zip(&froms) {
        if let Some(entries) = read_key(ctx.srv, ctx.s.db, k, from, r.count, &r)? {
            served.push((k, entries));
        }
    }
    if !served.is_empty() {
        reply_read(ctx.out, &served);
        return Ok(());
    }
    let Some(block) = r.block else {
        ctx.out.null_array();
        return Ok(());
    };
    // Retries see `$` resolved to the last id at the time of blocking.
    let mut retry_args = args.to_vec();
    for (i, from) in froms.iter().enumerate() {
        if let ReadFrom::After(id) = from {
            retry_args[r.streams + r.n + i] = Bytes::from(id_text(*id));
        }
    }
    ctx.block(BlockRequest {
        keys: r.keys(args).to_vec(),
        timeout: (block > 0).then(|| std::time::Duration::from_millis(block)),
        serve: if xreadgroup { serve_xreadgroup } else { serve_xread },
        on_timeout: Reply::null_array,
    });
    if ctx.s.block.is_some() {
        ctx.s.blocked_args = Some(retry_args);
    }
    Ok(())
}

/// A blocked reader's retry: serves the first key with something new, alone, as Redis
/// serves a woken reader (`COUNT` defaults to 1000 then).
fn serve_read(srv: &Shared, db: u8, args: &[Bytes], out: &mut Reply, xreadgroup: bool) -> Result<Served, CmdError> {
    let r = parse_read(args, xreadgroup)?;
    let count = if r.count == 0 { 1000 } else { r.count };
    for (i, k) in r.keys(args).iter().enumerate() {
        let id = &r.ids(args)[i];
        let from = if xreadgroup { ReadFrom::Group(GroupRead::New) } else { ReadFrom::After(strict_id(id)?) };
        if let Some(entries) = read_key(srv, db, k, from, count, &r)? {
            reply_read(out, &[(k, entries)]);
            return Ok(Served::Yes);
        }
    }
    Ok(Served::No)
}

fn serve_xread(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    serve_read(srv, db, args, out, false)
}

fn serve_xreadgroup(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    serve_read(srv, db, args, out, true)
}

/// ```text
/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
/// ```
fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    read_cmd(ctx, args, false)
}

/// ```text
/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
/// ```
fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    read_cmd(ctx, args, true)
}

// ---- XGROUP --------------------------------------------------------------------------------

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// Redis's `addReplyHelp`.
fn help(ctx: &mut Ctx<'_>, args: &[Bytes], lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        show(&args[0]).to_ascii_uppercase()
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// Checks a container subcommand against its Redis 7 arity; `None` if `args[1]` is not one
/// of `subs` (name, arity).
/// `XGROUP`'s subcommands and their Redis arities.
pub(crate) static XGROUP_SUBS: &[(&str, i32)] =
    &[("create", -5), ("setid", -5), ("destroy", 4), ("createconsumer", 5), ("delconsumer", 5), ("help", 2)];

/// `XINFO`'s subcommands and their Redis arities.
pub(crate) static XINFO_SUBS: &[(&str, i32)] = &[("stream", -3), ("groups", 3), ("consumers", 4), ("help", 2)];

fn nogroup_for_key(key: &[u8], group: &[u8]) -> CmdError {
    CmdError(format!("NOGROUP No such consumer group '{}' for key name '{}'", show_all(group), show_all(key)))
}

fn no_key_for_xgroup() -> CmdError {
    CmdError::err("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
}

/// ```text
/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]
/// XGROUP SETID key group id|$ [ENTRIESREAD entries-read]
/// XGROUP DESTROY key group
/// XGROUP CREATECONSUMER key group consumer
/// XGROUP DELCONSUMER key group consumer
/// XGROUP HELP
/// ```
fn xgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = check_sub(args, "xgroup", XGROUP_SUBS)?;
    if sub == "help" {
        help(ctx, args, XGROUP_HELP);
        return Ok(());
    }
    let (create, setid) = (sub == "create", sub == "setid");
    let mut mkstream = false;
    let mut entries_read: Option<u64> = None;
    let mut i = 5;
    while i < args.len() {
        if create && is(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(&args[i], "entriesread") && i + 1 < args.len() {
            let n = int_arg(&args[i + 1])?;
            if n < -1 {
                return Err(CmdError::err("value for ENTRIESREAD must be positive or -1"));
            }
            entries_read = (n >= 0).then_some(n as u64);
            i += 2;
        } else {
            return Err(subcommand_syntax(args));
        }
    }
    let (k, g) = (&args[2], &args[3]);
    let key = ctx.key(k);
    let c = &ctx.srv.colls;
    let exists = c.stream_info(&key)?.is_some();
    if !mkstream && !exists {
        return Err(no_key_for_xgroup());
    }
    let group_missing = || -> Result<bool, CmdError> { Ok(c.stream_group(&key, g)?.done().is_none()) };
    if !mkstream && matches!(sub, "setid" | "createconsumer" | "delconsumer") && group_missing()? {
        return Err(nogroup_for_key(k, g));
    }
    match sub {
        "create" => {
            if args.len() > 8 {
                return Err(subcommand_syntax(args));
            }
            let id = if args[4].as_ref() == b"$" { None } else { Some(strict_id(&args[4])?) };
            match c.xgroup_create(&key, g, id, entries_read, mkstream)? {
                GroupCreate::Created => ctx.out.ok(),
                GroupCreate::Exists => return Err(CmdError("BUSYGROUP Consumer Group name already exists".into())),
                GroupCreate::NoStream => return Err(no_key_for_xgroup()),
            }
        }
        "setid" => {
            if args.len() != 5 && args.len() != 7 {
                return Err(subcommand_syntax(args));
            }
            let id = if args[4].as_ref() == b"$" { None } else { Some(parse_id(&args[4], 0, false)?) };
            match c.xgroup_setid(&key, g, id, entries_read)? {
                GroupOutcome::Done(()) => ctx.out.ok(),
                GroupOutcome::NoGroup => return Err(nogroup_for_key(k, g)),
                GroupOutcome::NoStream => return Err(no_key_for_xgroup()),
            }
        }
        "destroy" => match c.xgroup_destroy(&key, g)? {
            Some(true) => {
                ctx.out.int(1);
                // Blocked XREADGROUP clients of the group get their NOGROUP error.
                ctx.signal_ready(k);
            }
            Some(false) => ctx.out.int(0),
            None => return Err(no_key_for_xgroup()),
        },
        "createconsumer" => match c.xgroup_create_consumer(&key, g, &args[4])? {
            GroupOutcome::Done(created) => ctx.out.int(created as i64),
            GroupOutcome::NoGroup => return Err(nogroup_for_key(k, g)),
            GroupOutcome::NoStream => return Err(no_key_for_xgroup()),
        },
        _ => match c.xgroup_del_consumer(&key, g, &args[4])? {
            GroupOutcome::Done(n) => ctx.out.int(n as i64),
            GroupOutcome::NoGroup => return Err(nogroup_for_key(k, g)),
            GroupOutcome::NoStream => return Err(no_key_for_xgroup()),
        },
    }
    Ok(())
}

// ---- XACK, XPENDING, XCLAIM, XAUTOCLAIM ------------------------------------------------------

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError(format!("NOGROUP No such key '{}' or consumer group '{}'", show_all(key), show_all(group)))
}

/// ```text
/// XACK key group id [id ...]
/// ```
fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let c = &ctx.srv.colls;
    if c.stream_group(&key, &args[2])?.done().is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[3..].iter().map(|a| strict_id(a)).collect::<Result<Vec<_>, _>>()?;
    let n = c.xack(&key, &args[2], &ids)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
/// ```
fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::syntax());
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if is(&args[3], "idle") {
            min_idle = int_arg(&args[4])?;
            if argc < 8 {
                return Err(CmdError::syntax());
            }
            at += 2;
        }
        let count = int_arg(&args[at + 2])?.max(0) as usize;
        let start = interval_id(&args[at], true)?;
        let end = interval_id(&args[at + 1], false)?;
        let consumer = args.get(at + 3);
        range = Some((min_idle, start, end, count, consumer));
    }
    let (k, g) = (&args[1], &args[2]);
    let key = ctx.key(k);
    let c = &ctx.srv.colls;
    match range {
        None => {
            let s = c.xpending_summary(&key, g)?.done().ok_or_else(|| nogroup(k, g))?;
            ctx.out.array(4);
            ctx.out.int(s.count as i64);
            match s.range {
                None => {
                    ctx.out.null();
                    ctx.out.null();
                    ctx.out.null_array();
                }
                Some((a, b)) => {
                    reply_id(ctx.out, a);
                    reply_id(ctx.out, b);
                    ctx.out.array(s.consumers.len());
                    for (name, n) in &s.consumers {
                        ctx.out.array(2);
                        ctx.out.bulk(name);
                        ctx.out.bulk_int(*n as i64);
                    }
                }
            }
        }
        Some((min_idle, start, end, count, consumer)) => {
            let entries = c
                .xpending_range(&key, g, start, end, count, consumer.map(|b| b.as_ref()), min_idle.max(0) as u64)?
                .done()
                .ok_or_else(|| nogroup(k, g))?;
            let now = ctx.now_ms();
            ctx.out.array(entries.len());
            for e in &entries {
                ctx.out.array(4);
                reply_id(ctx.out, e.id);
                ctx.out.bulk(&e.consumer);
                ctx.out.int(now.saturating_sub(e.delivery_time) as i64);
                ctx.out.int(e.delivery_count as i64);
            }
        }
    }
    Ok(())
}

/// ```text
/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
/// ```
fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (k, g) = (&args[1], &args[2]);
    let key = ctx.key(k);
    let c = &ctx.srv.colls;
    if c.stream_group(&key, g)?.done().is_none() {
        return Err(nogroup(k, g));
    }
    let min_idle = crate::protocol::request::parse_int(&args[4])
        .ok_or_else(|| CmdError::err("Invalid min-idle-time argument for XCLAIM"))?
        .max(0) as u64;
    let mut j = 5;
    let mut ids = Vec::new();
    while j < args.len() {
        match strict_id(&args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now_ms() as i64;
    let mut opts = ClaimOptions::default();
    let opt_int = |a: &[u8], what: &str| {
        crate::protocol::request::parse_int(a)
            .ok_or_else(|| CmdError::err(format_args!("Invalid {what} option argument for XCLAIM")))
    };
    while j < args.len() {
        let more = args.len() - 1 - j;
        let o = &args[j];
        if is(o, "force") {
            opts.force = true;
        } else if is(o, "justid") {
            opts.just_id = true;
        } else if is(o, "idle") && more > 0 {
            j += 1;
            opts.delivery_time = Some(now - opt_int(&args[j], "IDLE")?);
        } else if is(o, "time") && more > 0 {
            j += 1;
            opts.delivery_time = Some(opt_int(&args[j], "TIME")?);
        } else if is(o, "retrycount") && more > 0 {
            j += 1;
            let n = opt_int(&args[j], "RETRYCOUNT")?;
            opts.retry_count = (n >= 0).then_some(n as u64);
        } else if is(o, "lastid") && more > 0 {
            j += 1;
            opts.last_id = Some(strict_id(&args[j])?);
        } else {
            return Err(CmdError::err(format_args!("Unrecognized XCLAIM option '{}'", show(o))));
        }
        j += 1;
    }
    let claimed = c.xclaim(&key, g, &args[3], min_idle, &ids, opts)?.done().ok_or_else(|| nogroup(k, g))?;
    ctx.out.array(claimed.len());
    for e in &claimed {
        if opts.just_id {
            reply_id(ctx.out, e.id);
        } else {
            reply_entry(ctx.out, e);
        }
    }
    Ok(())
}

/// ```text
/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
/// ```
fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let min_idle = crate::protocol::request::parse_int(&args[4])
        .ok_or_else(|| CmdError::err("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0) as u64;
    let start = interval_id(&args[5], true)?;
    let mut count = 100usize;
    let mut just_id = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            match crate::protocol::request::parse_int(&args[j + 1]) {
                Some(n) if (1..=max).contains(&n) => count = n as usize,
                _ => return Err(CmdError::err("COUNT must be > 0")),
            }
            j += 1;
        } else if is(&args[j], "justid") {
            just_id = true;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let (k, g) = (&args[1], &args[2]);
    let key = ctx.key(k);
    let r = ctx
        .srv
        .colls
        .xautoclaim(&key, g, &args[3], min_idle, start, count, just_id)?
        .done()
        .ok_or_else(|| nogroup(k, g))?;
    ctx.out.array(3);
    reply_id(ctx.out, r.next);
    ctx.out.array(r.claimed.len());
    for e in &r.claimed {
        if just_id {
            reply_id(ctx.out, e.id);
        } else {
            reply_entry(ctx.out, e);
        }
    }
    ctx.out.array(r.deleted.len());
    for id in &r.deleted {
        reply_id(ctx.out, *id);
    }
    Ok(())
}

// ---- XINFO ---------------------------------------------------------------------------------

/// ```text
/// XINFO STREAM key [FULL [COUNT count]]
/// XINFO GROUPS key
/// XINFO CONSUMERS key group
/// XINFO HELP
/// ```
fn xinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = check_sub(args, "xinfo", XINFO_SUBS)?;
    if sub == "help" {
        help(ctx, args, XINFO_HELP);
        return Ok(());
    }
    let k = &args[2];
    let key = ctx.key(k);
    let c = &ctx.srv.colls;
    let Some(info) = c.stream_info(&key)? else { return Err(CmdError::no_such_key()) };
    match sub {
        "consumers" => {
            let g = &args[3];
            let consumers = c.xinfo_consumers(&key, g)?.done().ok_or_else(|| nogroup_for_key(k, g))?;
            let now = ctx.now_ms();
            ctx.out.array(consumers.len());
            for cm in &consumers {
                ctx.out.map(3);
                ctx.out.bulk(b"name");
                ctx.out.bulk(&cm.name);
                ctx.out.bulk(b"pending");
                ctx.out.int(cm.pending as i64);
                ctx.out.bulk(b"idle");
                ctx.out.int(now.saturating_sub(cm.seen_time) as i64);
            }
        }
        "groups" => {
            let groups = c.xinfo_groups(&key)?.unwrap_or_default();
            ctx.out.array(groups.len());
            for g in &groups {
                ctx.out.map(6);
                ctx.out.bulk(b"name");
                ctx.out.bulk(&g.name);
                ctx.out.bulk(b"consumers");
                ctx.out.int(g.consumers as i64);
                ctx.out.bulk(b"pending");
                ctx.out.int(g.pending as i64);
                ctx.out.bulk(b"last-delivered-id");
                reply_id(ctx.out, g.last_id);
                ctx.out.bulk(b"entries-read");
                opt_int(ctx.out, g.entries_read.map(|n| n as i64));
                ctx.out.bulk(b"lag");
                opt_int(ctx.out, g.lag);
            }
        }
        _ => {
            let opts = &args[3..];
            let full = match opts.len() {
                0 => None,
                1 | 3 if is(&opts[0], "full") => {
                    if opts.len() == 3 {
                        if !is(&opts[1], "count") {
                            return Err(subcommand_syntax(args));
                        }
                        let n = int_arg(&opts[2])?;
                        Some(if n < 0 { 10 } else { n as usize })
                    } else {
                        Some(10)
                    }
                }
                _ => return Err(subcommand_syntax(args)),
            };
            let out = &mut *ctx.out;
            out.map(if full.is_some() { 9 } else { 10 });
            out.bulk(b"length");
            out.int(info.length as i64);
            // Redis's radix tree holds nodes of up to 100 entries; report what it would hold for
            // a stream built by appends.
            let nodes = info.length.div_ceil(pmemkv::collections::stream::APPROX_NODE_ENTRIES as u64);
            out.bulk(b"radix-tree-keys");
            out.int(nodes as i64);
            out.bulk(b"radix-tree-nodes");
            out.int(if nodes == 0 { 1 } else { 2 * nodes as i64 });
            out.bulk(b"last-generated-id");
            reply_id(out, info.last_id);
            out.bulk(b"max-deleted-entry-id");
            reply_id(out, info.max_deleted_id);
            out.bulk(b"entries-added");
            out.int(info.entries_added as i64);
            out.bulk(b"recorded-first-entry-id");
            reply_id(out, info.first_id.unwrap_or(StreamId::MIN));
            match full {
                None => {
                    let groups = c.xinfo_groups(&key)?.unwrap_or_default();
                    out.bulk(b"groups");
                    out.int(groups.len() as i64);
                    let first = c.xrange(&key, Bound::Unbounded, Bound::Unbounded, Some(1))?;
                    let last = c.xrevrange(&key, Bound::Unbounded, Bound::Unbounded, Some(1))?;
                    for (name, e) in [(&b"first-entry"[..], first.first()), (b"last-entry", last.first())] {
                        out.bulk(name);
                        match e {
                            Some(e) => reply_entry(out, e),
                            None => out.null(),
                        }
                    }
                }
                Some(count) => {
                    let n = (count > 0).then_some(count);
                    let entries = c.xrange(&key, Bound::Unbounded, Bound::Unbounded, n)?;
                    out.bulk(b"entries");
                    reply_entries(out, &entries);
                    let groups = c.xinfo_groups_full(&key, count)?.unwrap_or_default();
                    out.bulk(b"groups");
                    out.array(groups.len());
                    for d in &groups {
                        let g = &d.group;
                        out.map(7);
                        out.bulk(b"name");
                        out.bulk(&g.name);
                        out.bulk(b"last-delivered-id");
                        reply_id(out, g.last_id);
                        out.bulk(b"entries-read");
                        opt_int(out, g.entries_read.map(|n| n as i64));
                        out.bulk(b"lag");
                        opt_int(out, g.lag);
                        out.bulk(b"pel-count");
                        out.int(g.pending as i64);
                        out.bulk(b"pending");
                        out.array(d.pending.len());
                        for p in &d.pending {
                            out.array(4);
                            reply_id(out, p.id);
                            out.bulk(&p.consumer);
                            out.int(p.delivery_time as i64);
                            out.int(p.delivery_count as i64);
                        }
                        out.bulk(b"consumers");
                        out.array(d.consumers.len());
                        for (cm, pel) in &d.consumers {
                            out.map(4);
                            out.bulk(b"name");
                            out.bulk(&cm.name);
                            out.bulk(b"seen-time");
                            out.int(cm.seen_time as i64);
                            out.bulk(b"pel-count");
                            out.int(cm.pending as i64);
                            out.bulk(b"pending");
                            out.array(pel.len());
                            for p in pel {
                                out.array(3);
                                reply_id(out, p.id);
                                out.int(p.delivery_time as i64);
                                out.int(p.delivery_count as i64);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn opt_int(out: &mut Reply, v: Option<i64>) {
    match v {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(parse_id(b"1-2", 0, true), Ok(StreamId::new(1, 2)));
        assert_eq!(parse_id(b"5", 7, true), Ok(StreamId::new(5, 7)));
        assert_eq!(parse_id(b"-", 0, false), Ok(StreamId::MIN));
        assert_eq!(parse_id(b"+", 0, false), Ok(StreamId::MAX));
        assert!(parse_id(b"+", 0, true).is_err());
        assert!(parse_id(b"1-x", 0, true).is_err());
        assert!(parse_id(b"", 0, true).is_err());
        assert!(parse_id(b"-1", 0, true).is_err());
        assert_eq!(parse_id(b"18446744073709551615-18446744073709551615", 0, true), Ok(StreamId::MAX));
        assert!(parse_id(b"18446744073709551616", 0, true).is_err());
        assert_eq!(interval_id(b"(1-0", true), Ok(StreamId::new(1, 1)));
        assert_eq!(interval_id(b"(1-0", false), Ok(StreamId::new(0, u64::MAX)));
        assert!(interval_id(b"(0-0", false).is_err());
        assert_eq!(interval_id(b"3", false), Ok(StreamId::new(3, u64::MAX)));
    }
}
