//! Introspection commands: CONFIG, COMMAND, SLOWLOG, LATENCY.
//!
//! Each is a Redis 7 container command: its subcommands are rows of a [`SubCommand`] table
//! with their own arity, checked like Redis checks a subcommand's arity
//! (`ERR wrong number of arguments for 'config|get' command`), and an unknown subcommand
//! gets Redis's `ERR unknown subcommand 'x'. Try CONFIG HELP.`. The tables also feed
//! `COMMAND INFO`/`DOCS`/`LIST`, which show them as Redis shows `config|get` and friends.
//!
//! What pmemkv-server does not track is answered as Redis answers when the feature is off:
//! no latency events (`LATENCY LATEST` is empty, as with `latency-monitor-threshold 0`), no
//! latency histograms (`LATENCY HISTOGRAM` is empty, as with `latency-tracking no`).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::flags::*;
use super::{is, lookup, show, subcommand_syntax, Command, Ctx, Handler};
use crate::config::{self, PARAMS};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;

/// One subcommand of a container command (`CONFIG GET`, `SLOWLOG LEN`, …).
pub struct SubCommand {
    /// Lowercase name without the container (`get`).
    pub name: &'static str,
    /// Redis arity, counting the container and the subcommand (`CONFIG GET p` is 3).
    pub arity: i32,
    /// [`super::flags`] bits, for `COMMAND INFO`.
    pub flags: u32,
    /// One-line summary for `COMMAND DOCS`.
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// Time complexity of this implementation, for `COMMAND DOCS`.
    pub complexity: &'static str,
    /// The handler (gets the whole argument list, container name first).
    pub run: Handler,
}

impl SubCommand {
    /// True if `n` arguments (container and subcommand included) satisfy the arity.
    pub fn arity_ok(&self, n: usize) -> bool {
        super::arity_holds(self.arity, n)
    }
}

macro_rules! container {
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

macro_rules! sub {
    ($name:literal, $arity:expr, $flags:expr, $summary:literal, $since:literal, $complexity:literal, $run:expr) => {
        SubCommand {
            name: $name,
            arity: $arity,
            flags: $flags,
            summary: $summary,
            since: $since,
            complexity: $complexity,
            run: $run,
        }
    };
}

/// The introspection family.
pub static COMMANDS: &[Command] = &[
    container!(
        "config",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        "A container for server configuration commands.",
        "2.0.0",
        config
    ),
    container!("command", -1, LOADING | STALE, "Returns detailed information about all commands.", "2.8.13", command),
    container!("slowlog", -2, ADMIN | LOADING | STALE, "A container for slow log commands.", "2.2.12", slowlog),
    container!(
        "latency",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        "A container for latency diagnostics commands.",
        "2.8.13",
        latency
    ),
];

const ADMIN_SUB: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

/// `CONFIG` subcommands.
pub static CONFIG_SUBCOMMANDS: &[SubCommand] = &[
    sub!(
        "get",
        -3,
        ADMIN_SUB,
        "Returns the effective values of configuration parameters.",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        config_get
    ),
    sub!(
        "set",
        -4,
        ADMIN_SUB,
        "Sets configuration parameters in-flight.",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        config_set
    ),
    sub!("resetstat", 2, ADMIN_SUB, "Resets the server's statistics.", "2.0.0", "O(1)", config_resetstat),
    sub!("rewrite", 2, ADMIN_SUB, "Persists the effective configuration to file.", "2.8.0", "O(1)", config_rewrite),
    sub!(
        "help",
        2,
        LOADING | STALE,
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
        config_help
    ),
];

/// `COMMAND` subcommands.
pub static COMMAND_SUBCOMMANDS: &[SubCommand] = &[
    sub!("count", 2, LOADING | STALE, "Returns a count of commands.", "2.8.13", "O(1)", command_count),
    sub!(
        "docs",
        -2,
        LOADING | STALE,
        "Returns documentary information about one, multiple or all commands.",
        "7.0.0",
        "O(N) where N is the number of commands to look up",
        command_docs
    ),
    sub!(
        "getkeys",
        -4,
        LOADING | STALE,
        "Extracts the key names from an arbitrary command.",
        "2.8.13",
        "O(N) where N is the number of arguments to the command",
        command_getkeys
    ),
    sub!(
        "help",
        2,
        LOADING | STALE,
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
        command_help
    ),
    sub!(
        "info",
        -2,
        LOADING | STALE,
        "Returns information about one, multiple or all commands.",
        "2.8.13",
        "O(N) where N is the number of commands to look up",
        command_info
    ),
    sub!(
        "list",
        -2,
        LOADING | STALE,
        "Returns a list of command names.",
        "7.0.0",
        "O(N) where N is the total number of commands",
        command_list
    ),
];

/// `SLOWLOG` subcommands.
pub static SLOWLOG_SUBCOMMANDS: &[SubCommand] = &[
    sub!(
        "get",
        -2,
        ADMIN | LOADING | STALE,
        "Returns the slow log's entries.",
        "2.2.12",
        "O(N) where N is the number of entries returned",
        slowlog_get
    ),
    sub!(
        "len",
        2,
        ADMIN | LOADING | STALE,
        "Returns the number of entries in the slow log.",
        "2.2.12",
        "O(1)",
        slowlog_len
    ),
    sub!(
        "reset",
        2,
        ADMIN | LOADING | STALE,
        "Clears all entries from the slow log.",
        "2.2.12",
        "O(N) where N is the number of entries in the slowlog",
        slowlog_reset
    ),
    sub!(
        "help",
        2,
        LOADING | STALE,
        "Show helpful text about the different subcommands",
        "6.2.0",
        "O(1)",
        slowlog_help
    ),
];

/// `LATENCY` subcommands.
pub static LATENCY_SUBCOMMANDS: &[SubCommand] = &[
    sub!("doctor", 2, ADMIN_SUB, "Returns a human-readable latency analysis report.", "2.8.13", "O(1)", latency_doctor),
    sub!("graph", 3, ADMIN_SUB, "Returns a latency graph for an event.", "2.8.13", "O(1)", latency_graph),
    sub!(
        "help",
        2,
        LOADING | STALE,
        "Returns helpful text about the different subcommands.",
        "2.8.13",
        "O(1)",
        latency_help
    ),
    sub!(
        "histogram",
        -2,
        ADMIN_SUB,
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        "7.0.0",
        "O(1): no latency histograms are kept",
        latency_histogram
    ),
    sub!("history", 3, ADMIN_SUB, "Returns timestamp-latency samples for an event.", "2.8.13", "O(1)", latency_history),
    sub!(
        "latest",
        2,
        ADMIN_SUB,
        "Returns the latest latency samples for all events.",
        "2.8.13",
        "O(1)",
        latency_latest
    ),
    sub!("reset", -2, ADMIN_SUB, "Resets the latency data for one or more events.", "2.8.13", "O(1)", latency_reset),
];

/// The subcommands of container command `name` (empty for other commands).
pub fn subcommands(name: &str) -> &'static [SubCommand] {
    match name {
        "config" => CONFIG_SUBCOMMANDS,
        "command" => COMMAND_SUBCOMMANDS,
        "slowlog" => SLOWLOG_SUBCOMMANDS,
        "latency" => LATENCY_SUBCOMMANDS,
        _ => &[],
    }
}

/// The time complexity of this server's implementation of a command, where known (for
/// `COMMAND DOCS`; the other families' complexities are not recorded, so they are left out
/// rather than copied from Redis, which may not hold here).
fn complexity(name: &str) -> Option<&'static str> {
    match name {
        "config" | "command" | "slowlog" | "latency" => Some("Depends on subcommand."),
        "info" => Some("O(N) where N is the number of keys when the keyspace section is included, else O(1)"),
        _ => None,
    }
}

/// Runs the subcommand `args[1]` of container `container` from `subs`.
fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes], container: &str, subs: &[SubCommand]) -> CmdResult {
    (find_sub(args, container, subs)?.run)(ctx, args)
}

/// The subcommand `args[1]` of container `container` from `subs`, if it exists and its arity
/// holds; otherwise Redis's error for it.
pub(crate) fn find_sub<'a>(
    args: &[Bytes],
    container: &str,
    subs: &'a [SubCommand],
) -> Result<&'a SubCommand, CmdError> {
    let Some(s) = subs.iter().find(|s| is(&args[1], s.name)) else {
        return Err(CmdError::unknown_subcommand(&args[1], container));
    };
    if !s.arity_ok(args.len()) {
        return Err(CmdError::wrong_args(&format!("{container}|{}", s.name)));
    }
    Ok(s)
}

/// Redis's `addReplyHelp`: a header naming the command as typed, the lines, and the `HELP`
/// footer, as simple strings.
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

// ---- CONFIG ---------------------------------------------------------------------------------

/// ```text
/// CONFIG GET pattern [pattern ...] | SET name value [name value ...] | RESETSTAT | REWRITE
///      | HELP
/// ```
fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    dispatch(ctx, args, "config", CONFIG_SUBCOMMANDS)
}

/// ```text
/// CONFIG GET pattern [pattern ...]
/// ```
/// A map of every parameter matching a glob pattern (case-insensitive). A pattern without
/// `*`, `?` or `[` is looked up by name and answered under the name as given, like Redis.
fn config_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cfg = ctx.srv.config.read();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pat in &args[2..] {
        if !pat.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            if let Some(p) = config::param(&String::from_utf8_lossy(pat)) {
                if !seen.contains(&p.name) {
                    seen.push(p.name);
                    pairs.push((String::from_utf8_lossy(pat).into_owned(), (p.get)(&cfg)));
                }
            }
            continue;
        }
        for p in PARAMS {
            if !seen.contains(&p.name) && glob_match(pat, p.name.as_bytes(), true) {
                seen.push(p.name);
                pairs.push((p.name.to_string(), (p.get)(&cfg)));
            }
        }
    }
    ctx.out.map(pairs.len());
    for (k, v) in &pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

/// ```text
/// CONFIG SET name value [name value ...]
/// ```
/// All or nothing: every name is checked (known, mutable, not repeated), then every value is
/// applied to a copy of the configuration, which replaces the live one only if all of them
/// were valid.
fn config_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() % 2 == 1 {
        return Err(CmdError::syntax());
    }
    let failed = |name: &str, why: &str| {
        CmdError::err(format_args!("CONFIG SET failed (possibly related to argument '{name}') - {why}"))
    };
    // Redis reports the first problem found while checking the names: an unknown name, or
    // an immutable or repeated one (after which unknown names are no longer looked for).
    let mut chosen: Vec<(&'static config::Param, String)> = Vec::new();
    for pair in args[2..].chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]);
        let Some(p) = config::param(&name) else {
            return Err(CmdError::err(format_args!(
                "Unknown option or number of arguments for CONFIG SET - '{}'",
                show(&pair[0])
            )));
        };
        if !p.mutable {
            return Err(failed(&show(&pair[0]), "can't set immutable config"));
        }
        if chosen.iter().any(|(q, _)| q.name == p.name) {
            return Err(failed(&show(&pair[0]), "duplicate parameter"));
        }
        chosen.push((p, String::from_utf8_lossy(&pair[1]).into_owned()));
    }
    let live = ctx.srv.config.read();
    let mut next = live.clone();
    for (p, value) in &chosen {
        next.set(p.name, std::slice::from_ref(value)).map_err(|e| failed(p.name, &e.0))?;
    }
    let pubsub_limit = next.output_pubsub;
    drop(live);
    ctx.srv.update_config(|c| *c = next);
    ctx.srv.pubsub.set_limit(pubsub_limit);
    ctx.out.ok();
    Ok(())
}

/// ```text
/// CONFIG RESETSTAT
/// ```
/// Resets what Redis resets: the `INFO` counters (commands, per-command statistics,
/// network bytes, keyspace hits and misses, error replies, connections received and
/// rejected). The slow log is kept, as in Redis.
fn config_resetstat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.srv.clients.total_received.store(0, Ordering::Relaxed);
    ctx.srv.clients.rejected.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// ```text
/// CONFIG REWRITE
/// ```
fn config_rewrite(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let cfg = ctx.srv.config.read().clone();
    cfg.rewrite().map_err(|e| CmdError::err(e.0))?;
    tracing::warn!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

/// ```text
/// CONFIG HELP
/// ```
fn config_help(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    help(
        ctx,
        args,
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ---- COMMAND --------------------------------------------------------------------------------

/// ```text
/// COMMAND [COUNT | INFO [name ...] | DOCS [name ...] | LIST [FILTERBY MODULE m | ACLCAT c
///         | PATTERN p] | GETKEYS command [arg ...] | HELP]
/// ```
fn command(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() == 1 {
        let n = super::count();
        ctx.out.array(n);
        for c in super::all() {
            write_info(ctx, Entry::Top(c));
        }
        return Ok(());
    }
    dispatch(ctx, args, "command", COMMAND_SUBCOMMANDS)
}

/// A command or one of its subcommands, as `COMMAND INFO`/`DOCS` look them up.
#[derive(Clone, Copy)]
enum Entry {
    Top(&'static Command),
    Sub(&'static Command, &'static SubCommand),
}

impl Entry {
    /// Looks up `name` or `container|sub` (any case).
    fn find(name: &[u8]) -> Option<Entry> {
        match name.iter().position(|&b| b == b'|') {
            None => lookup(name).map(|(_, c)| Entry::Top(c)),
            Some(i) => {
                let (_, c) = lookup(&name[..i])?;
                let s = subcommands(c.name).iter().find(|s| is(&name[i + 1..], s.name))?;
                Some(Entry::Sub(c, s))
            }
        }
    }

    fn full_name(&self) -> String {
        match self {
            Entry::Top(c) => c.name.to_string(),
            Entry::Sub(c, s) => format!("{}|{}", c.name, s.name),
        }
    }

    /// The flags `COMMAND INFO` shows. A container that cannot run without a subcommand
    /// (arity -2) shows none, like Redis's: its subcommands carry the flags. (The table
    /// keeps the container's flags for the dispatcher: `ADMIN` keeps `CONFIG SET` out of
    /// `MONITOR`.)
    fn flags(&self) -> u32 {
        match self {
            Entry::Top(c) if c.arity == -2 && !subcommands(c.name).is_empty() => 0,
            Entry::Top(c) => c.flags,
            Entry::Sub(_, s) => s.flags,
        }
    }

    fn group(&self) -> &'static str {
        match self {
            Entry::Top(c) | Entry::Sub(c, _) => c.group,
        }
    }

    fn subs(&self) -> &'static [SubCommand] {
        match self {
            Entry::Top(c) => subcommands(c.name),
            Entry::Sub(..) => &[],
        }
    }
}

/// ACL categories in Redis's order (`ACL CAT`).
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The ACL categories of a command: Redis's implicit ones from its flags
/// (`setImplicitACLCategories`: write, read, admin and dangerous, pubsub, fast or slow,
/// blocking) plus the one its documentation group stands for (`string` → `@string`,
/// `generic` → `@keyspace`, …). Redis lists a few more by hand for some commands; those
/// are not known here.
fn categories(flags: u32, group: &str) -> Vec<&'static str> {
    let has = |f: u32| flags & f != 0;
    CATEGORIES
        .iter()
        .copied()
        .filter(|&cat| match cat {
            "keyspace" => group == "generic",
            "read" => has(READONLY) && group != "scripting",
            "write" => has(WRITE),
            "sortedset" => group == "sorted-set",
            "pubsub" => has(PUBSUB) || group == "pubsub",
            "admin" | "dangerous" => has(ADMIN),
            "fast" => has(FAST),
            "slow" => !has(FAST),
            "blocking" => has(BLOCKING),
            "transaction" => group == "transactions",
            other => group == other,
        })
        .collect()
}

/// One `COMMAND INFO` entry: Redis 7's ten elements (name, arity, flags, first key, last
/// key, step, ACL categories, tips, key specifications, subcommands).
fn write_info(ctx: &mut Ctx<'_>, e: Entry) {
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk(e.full_name().as_bytes());
    let flags = e.flags();
    let (arity, first, last, step) = match e {
        Entry::Top(c) => (c.arity, c.first_key, c.last_key, c.step),
        Entry::Sub(_, s) => (s.arity, 0, 0, 0),
    };
    out.int(arity as i64);
    let names: Vec<&str> = super::flags::NAMES.iter().filter(|(f, _)| flags & f != 0).map(|(_, n)| *n).collect();
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let cats = categories(flags, e.group());
    out.set(cats.len());
    for c in cats {
        out.simple(&format!("@{c}"));
    }
    // No command tips and no key specifications are recorded.
    out.set(0);
    out.set(0);
    let subs = e.subs();
    if subs.is_empty() {
        out.set(0);
    } else {
        out.array(subs.len());
        let Entry::Top(c) = e else { unreachable!("only top-level commands have subcommands") };
        for s in subs {
            write_info(ctx, Entry::Sub(c, s));
        }
    }
}

/// One `COMMAND DOCS` entry: a map of summary, since, group, complexity (where known) and
/// subcommands (for containers). Arguments are not recorded, so they are left out.
fn write_docs(ctx: &mut Ctx<'_>, e: Entry) {
    let (summary, since, cx) = match e {
        Entry::Top(c) => (c.summary, c.since, complexity(c.name)),
        Entry::Sub(_, s) => (s.summary, s.since, Some(s.complexity)),
    };
    let subs = e.subs();
    ctx.out.map(3 + cx.is_some() as usize + !subs.is_empty() as usize);
    ctx.out.bulk(b"summary");
    ctx.out.bulk(summary.as_bytes());
    ctx.out.bulk(b"since");
    ctx.out.bulk(since.as_bytes());
    ctx.out.bulk(b"group");
    ctx.out.bulk(e.group().as_bytes());
    if let Some(cx) = cx {
        ctx.out.bulk(b"complexity");
        ctx.out.bulk(cx.as_bytes());
    }
    if !subs.is_empty() {
        let Entry::Top(c) = e else { unreachable!("only top-level commands have subcommands") };
        ctx.out.bulk(b"subcommands");
        ctx.out.map(subs.len());
        for s in subs {
            let sub = Entry::Sub(c, s);
            ctx.out.bulk(sub.full_name().as_bytes());
            write_docs(ctx, sub);
        }
    }
}

/// ```text
/// COMMAND COUNT
/// ```
fn command_count(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(super::count() as i64);
    Ok(())
}

/// ```text
/// COMMAND INFO [name ...]
/// ```
/// Every command without names; otherwise one entry per name, null for an unknown one.
fn command_info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 {
        ctx.out.array(super::count());
        for c in super::all() {
            write_info(ctx, Entry::Top(c));
        }
        return Ok(());
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match Entry::find(name) {
            Some(e) => write_info(ctx, e),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// ```text
/// COMMAND DOCS [name ...]
/// ```
/// A map of command name to its documentation; unknown names are skipped.
fn command_docs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let entries: Vec<Entry> = if args.len() == 2 {
        super::all().map(Entry::Top).collect()
    } else {
        args[2..].iter().filter_map(|n| Entry::find(n)).collect()
    };
    ctx.out.map(entries.len());
    for e in entries {
        ctx.out.bulk(e.full_name().as_bytes());
        write_docs(ctx, e);
    }
    Ok(())
}

/// ```text
/// COMMAND LIST [FILTERBY MODULE module | ACLCAT category | PATTERN pattern]
/// ```
/// Every command name, each container followed by its `container|sub` names. No modules
/// exist, so `MODULE` matches nothing; an unknown category matches nothing.
fn command_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    enum Filter<'a> {
        None,
        Module,
        AclCat(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let mut filter = Filter::None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "FILTERBY") && more == 2 {
            let kind = &args[i + 1];
            let arg = &args[i + 2][..];
            filter = if is(kind, "MODULE") {
                Filter::Module
            } else if is(kind, "ACLCAT") {
                Filter::AclCat(arg)
            } else if is(kind, "PATTERN") {
                Filter::Pattern(arg)
            } else {
                return Err(CmdError::syntax());
            };
            i += 3;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let keep = |e: &Entry| -> bool {
        match filter {
            Filter::None => true,
            Filter::Module => false,
            Filter::AclCat(cat) => categories(e.flags(), e.group()).iter().any(|c| is(cat, c)),
            Filter::Pattern(p) => glob_match(p, e.full_name().as_bytes(), true),
        }
    };
    let mut names = Vec::new();
    for c in super::all() {
        let top = Entry::Top(c);
        if keep(&top) {
            names.push(top.full_name());
        }
        for s in subcommands(c.name) {
            let sub = Entry::Sub(c, s);
            if keep(&sub) {
                names.push(sub.full_name());
            }
        }
    }
    ctx.out.bulks(&names);
    Ok(())
}

/// ```text
/// COMMAND GETKEYS command [arg ...]
/// ```
/// The key arguments of a command: from its first key, last key and step, or, for the
/// commands whose keys move with their arguments (Redis's `movablekeys`), from their
/// `numkeys` argument or `STREAMS` keyword.
fn command_getkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let inner = &args[2..];
    let Some((_, c)) = lookup(&inner[0]) else {
        return Err(CmdError::err("Invalid command specified"));
    };
    let movable = movable_keys(c.name, inner);
    if c.first_key == 0 && movable.is_none() {
        return Err(CmdError::err("The command has no key arguments"));
    }
    if !c.arity_ok(inner.len()) {
        return Err(CmdError::err("Invalid number of arguments specified for command"));
    }
    if let Some(keys) = movable {
        let keys = keys.ok_or_else(|| CmdError::err("Invalid arguments specified for command"))?;
        ctx.out.bulks(&keys);
        return Ok(());
    }
    let argc = inner.len() as i64;
    let first = c.first_key as i64;
    let last = if c.last_key < 0 { argc + c.last_key as i64 } else { c.last_key as i64 };
    let step = c.step.max(1) as usize;
    let mut keys = Vec::new();
    for pos in (first..=last).step_by(step) {
        if pos >= argc || pos < first {
            // Too few arguments for a variadic command: no keys (Redis expects the command
            // itself to report the error).
            keys.clear();
            break;
        }
        keys.push(&inner[pos as usize]);
    }
    if keys.is_empty() {
        return Err(CmdError::err("Invalid arguments specified for command"));
    }
    ctx.out.bulks(&keys);
    Ok(())
}

/// The keys of `args` (a whole command, name first) if command `name` finds its keys through
/// a `numkeys` argument or the `STREAMS` keyword: `Some(None)` if the arguments do not name
/// them validly, `None` for commands with fixed key positions.
fn movable_keys<'a>(name: &str, args: &'a [Bytes]) -> Option<Option<Vec<&'a Bytes>>> {
    // (position of numkeys, keys before it that always come first: the destination)
    let (numkeys_at, leading) = match name {
        "zunionstore" | "zinterstore" | "zdiffstore" => (2, 1),
        "sintercard" | "zintercard" | "lmpop" | "zmpop" | "zunion" | "zinter" | "zdiff" => (1, 0),
        "blmpop" | "bzmpop" => (2, 0),
        "xread" | "xreadgroup" => {
            // The keys are the first half of what follows STREAMS.
            let Some(at) = args.iter().skip(1).position(|a| a.eq_ignore_ascii_case(b"streams")) else {
                return Some(None);
            };
            let rest = &args[at + 2..];
            let n = rest.len() / 2;
            return Some((n > 0).then(|| rest[..n].iter().collect()));
        }
        _ => return None,
    };
    let n = args
        .get(numkeys_at)
        .and_then(|a| std::str::from_utf8(a).ok())
        .and_then(|a| a.parse::<usize>().ok())
        .filter(|&n| n > 0 && numkeys_at + n < args.len());
    Some(n.map(|n| args[1..=leading].iter().chain(&args[numkeys_at + 1..=numkeys_at + n]).collect()))
}

/// ```text
/// COMMAND HELP
/// ```
fn command_help(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    help(
        ctx,
        args,
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    );
    Ok(())
}

// ---- SLOWLOG --------------------------------------------------------------------------------

/// ```text
/// SLOWLOG GET [count] | LEN | RESET | HELP
/// ```
fn slowlog(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    dispatch(ctx, args, "slowlog", SLOWLOG_SUBCOMMANDS)
}

/// ```text
/// SLOWLOG GET [count]
/// ```
/// The newest `count` entries (default 10, -1 for all), newest first, each `[id, unix
/// time, microseconds, [args…], client address, client name]`.
fn slowlog_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax(args));
    }
    let log = ctx.srv.slowlog.lock();
    let count = match args.get(2) {
        None => 10,
        Some(a) => match crate::protocol::request::parse_int(a) {
            Some(-1) => log.entries.len(),
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(CmdError::err("count should be greater than or equal to -1")),
        },
    };
    let n = count.min(log.entries.len());
    ctx.out.array(n);
    for e in log.entries.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time as i64);
        ctx.out.int(e.micros as i64);
        ctx.out.bulks(&e.args);
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

/// ```text
/// SLOWLOG LEN
/// ```
fn slowlog_len(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.slowlog.lock().entries.len();
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// SLOWLOG RESET
/// ```
fn slowlog_reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.srv.slowlog.lock().entries.clear();
    ctx.out.ok();
    Ok(())
}

/// ```text
/// SLOWLOG HELP
/// ```
fn slowlog_help(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    help(
        ctx,
        args,
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

// ---- LATENCY --------------------------------------------------------------------------------

/// ```text
/// LATENCY LATEST | HISTORY event | RESET [event ...] | GRAPH event | HISTOGRAM [command ...]
///       | DOCTOR | HELP
/// ```
/// No latency events or histograms are recorded: the replies are Redis's with latency
/// monitoring and tracking off.
fn latency(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    dispatch(ctx, args, "latency", LATENCY_SUBCOMMANDS)
}

/// ```text
/// LATENCY LATEST
/// ```
fn latency_latest(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

/// ```text
/// LATENCY HISTORY event
/// ```
fn latency_history(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

/// ```text
/// LATENCY RESET [event ...]
/// ```
/// The number of event series reset: always 0.
fn latency_reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(0);
    Ok(())
}

/// ```text
/// LATENCY GRAPH event
/// ```
fn latency_graph(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Err(CmdError::err(format_args!("No samples available for event '{}'", show(&args[2]))))
}

/// ```text
/// LATENCY HISTOGRAM [command ...]
/// ```
/// An empty map: no per-command latency histograms are kept.
fn latency_histogram(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.map(0);
    Ok(())
}

/// What `LATENCY DOCTOR` says (the start is Redis's wording with monitoring disabled).
const LATENCY_DOCTOR: &str = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this \
pmemkv-server instance: it does not record latency events, and latency-monitor-threshold cannot be set. \
Per-command call counts and times are in INFO commandstats, and commands slower than \
slowlog-log-slower-than microseconds are in SLOWLOG GET.\n";

/// ```text
/// LATENCY DOCTOR
/// ```
fn latency_doctor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.verbatim("txt", LATENCY_DOCTOR.as_bytes());
    Ok(())
}

/// ```text
/// LATENCY HELP
/// ```
fn latency_help(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    help(
        ctx,
        args,
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_redis_rules() {
        assert_eq!(categories(READONLY | FAST, "string"), ["read", "string", "fast"]);
        assert_eq!(categories(FAST | LOADING | STALE, "connection"), ["fast", "connection"]);
        assert_eq!(categories(WRITE, "generic"), ["keyspace", "write", "slow"]);
        assert_eq!(categories(ADMIN_SUB, "server"), ["admin", "slow", "dangerous"]);
        assert_eq!(categories(WRITE | FAST, "sorted-set"), ["write", "sortedset", "fast"]);
    }

    #[test]
    fn subcommand_tables_are_well_formed() {
        for c in COMMANDS {
            let subs = subcommands(c.name);
            assert!(!subs.is_empty(), "{}", c.name);
            assert!(subs.iter().any(|s| s.name == "help"), "{}", c.name);
            for s in subs {
                assert_eq!(s.name, s.name.to_ascii_lowercase());
                assert!(s.arity.unsigned_abs() >= 2, "{}|{}", c.name, s.name);
            }
        }
        assert!(matches!(Entry::find(b"CONFIG|Get"), Some(Entry::Sub(_, s)) if s.name == "get"));
        assert!(Entry::find(b"get|x").is_none());
        assert!(Entry::find(b"config|nope").is_none());
    }
}
