//! Commands: the table every command is registered in, the context a command runs with, and
//! argument helpers shared by the families.
//!
//! One module per command family; each exports a `COMMANDS` slice of [`Command`]s. Adding a
//! family is adding a module and one line in [`FAMILIES`]. A command is a plain function
//! `fn(&mut Ctx, &[Bytes]) -> CmdResult` that writes its reply into `ctx.out` (or returns a
//! [`CmdError`], which the dispatcher writes). The dispatcher checks arity (Redis's rule:
//! positive = exact, negative = at least), authentication and the pub/sub context before a
//! command runs, so commands can index their arguments up to the arity directly.

pub mod connection;
pub mod hashes;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod lists;
pub mod long_double;
pub mod multi;
pub mod pubsub;
pub mod server;
pub mod sets;
pub mod streams;
pub mod strings;
pub mod zsets;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use bytes::Bytes;

use crate::error::{CmdError, CmdResult};
use crate::keyspace::db_key;
use crate::protocol::reply::Reply;
use crate::session::Session;
use crate::shared::Shared;

/// The families, in `COMMAND LIST` order.
pub static FAMILIES: &[&[Command]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    keys::COMMANDS,
    strings::COMMANDS,
    hashes::COMMANDS,
    lists::COMMANDS,
    sets::COMMANDS,
    zsets::COMMANDS,
    streams::COMMANDS,
    pubsub::COMMANDS,
    multi::COMMANDS,
    info::COMMANDS,
    introspection::COMMANDS,
];

/// A command handler.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

/// Command flags (what `COMMAND INFO` reports, and what the dispatcher acts on).
pub mod flags {
    /// Changes data: counts as a write for durability (`appendfsync always`) and `dirty`.
    pub const WRITE: u32 = 1;
    /// Only reads data.
    pub const READONLY: u32 = 1 << 1;
    /// May use more memory (Redis's `denyoom`).
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Pub/sub related.
    pub const PUBSUB: u32 = 1 << 4;
    /// Not allowed in scripts.
    pub const NOSCRIPT: u32 = 1 << 5;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 6;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 7;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 8;
    /// Not shown to `MONITOR`.
    pub const SKIP_MONITOR: u32 = 1 << 9;
    /// Not logged in the slow log.
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 11;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 12;
    /// Allowed while a RESP2 client is subscribed.
    pub const SUBSCRIBED_OK: u32 = 1 << 13;
    /// Not queued by `MULTI` (runs at once: `EXEC`, `DISCARD`, `MULTI`, `WATCH`, `QUIT`, `RESET`).
    pub const NO_MULTI: u32 = 1 << 14;
    /// Key positions that `first_key`/`last_key`/`step` cannot describe (a `numkeys`
    /// argument: LMPOP, BLMPOP); such a command touches its keys for WATCH itself.
    pub const MOVABLEKEYS: u32 = 1 << 15;

    /// Names for `COMMAND INFO`, in Redis's order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MOVABLEKEYS, "movablekeys"),
    ];
}

/// One command's definition.
pub struct Command {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (with the name), `-n` at least n.
    pub arity: i32,
    /// [`flags`] bits.
    pub flags: u32,
    /// Position of the first key argument (0: none).
    pub first_key: i32,
    /// Position of the last key argument (-1: the last argument).
    pub last_key: i32,
    /// Step between key arguments.
    pub step: i32,
    /// `COMMAND DOCS` group (`string`, `hash`, `generic`, `server`, `connection`, …).
    pub group: &'static str,
    /// One-line summary for `COMMAND DOCS`.
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// The handler.
    pub run: Handler,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command").field("name", &self.name).field("arity", &self.arity).finish_non_exhaustive()
    }
}

impl Command {
    /// True if `n` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, n: usize) -> bool {
        arity_holds(self.arity, n)
    }

    /// True if the command has flag `f`.
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}

/// Every command by lowercase name, with its index (for per-command statistics).
static TABLE: LazyLock<HashMap<&'static str, (usize, &'static Command), BuildHasherDefault<Fnv>>> =
    LazyLock::new(|| {
        let mut m = HashMap::default();
        for (i, c) in all().enumerate() {
            let prev = m.insert(c.name, (i, c));
            assert!(prev.is_none(), "command {} registered twice", c.name);
        }
        m
    });

/// For a container command whose subcommands have a table, checks that the subcommand
/// exists and its arity holds, with Redis's error otherwise. Redis looks subcommands up
/// before it queues a command in `MULTI`, so such an error aborts the transaction
/// (`EXECABORT`) instead of failing at `EXEC`.
pub fn check_subcommand(name: &str, args: &[Bytes]) -> Result<(), CmdError> {
    if args.len() < 2 {
        return Ok(());
    }
    match name {
        "xgroup" => check_sub(args, name, streams::XGROUP_SUBS).map(drop),
        "xinfo" => check_sub(args, name, streams::XINFO_SUBS).map(drop),
        "object" => check_sub(args, name, OBJECT_SUBS).map(drop),
        "pubsub" => check_sub(args, name, pubsub::PUBSUB_SUBS).map(drop),
        "config" | "command" | "slowlog" | "latency" => {
            introspection::find_sub(args, name, introspection::subcommands(name)).map(drop)
        }
        _ => Ok(()),
    }
}

/// The subcommand `args[1]` of container `container` from `subs` (name, Redis arity), if it
/// exists and its arity holds; otherwise Redis's error for it.
pub(crate) fn check_sub(
    args: &[Bytes],
    container: &str,
    subs: &[(&'static str, i32)],
) -> Result<&'static str, CmdError> {
    let Some(&(name, arity)) = subs.iter().find(|(n, _)| is(&args[1], n)) else {
        return Err(CmdError::unknown_subcommand(&args[1], container));
    };
    if !arity_holds(arity, args.len()) {
        return Err(CmdError::wrong_args(&format!("{container}|{name}")));
    }
    Ok(name)
}

/// True if `n` arguments (the name included) satisfy a Redis arity: exactly `arity` if it is
/// positive, at least `-arity` if negative.
pub fn arity_holds(arity: i32, n: usize) -> bool {
    let (n, a) = (n as i64, arity as i64);
    if a >= 0 {
        n == a
    } else {
        n >= -a
    }
}

/// `OBJECT`'s subcommands and their Redis arities.
static OBJECT_SUBS: &[(&str, i32)] = &[("encoding", 3), ("idletime", 3), ("refcount", 3), ("freq", 3), ("help", 2)];

/// True for container commands, whose subcommand names the command (`client|list`).
pub fn is_container(name: &str) -> bool {
    matches!(
        name,
        "client" | "config" | "command" | "slowlog" | "latency" | "object" | "pubsub" | "xgroup" | "xinfo" | "memory"
    )
}

/// FNV-1a: command names are short, and the table is looked up once per command; the
/// default SipHash costs more than the rest of a `GET`'s dispatch.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Every command, in registration order.
pub fn all() -> impl Iterator<Item = &'static Command> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// Number of commands.
pub fn count() -> usize {
    TABLE.len()
}

/// Looks a command up by name (any case) and returns it with its index.
pub fn lookup(name: &[u8]) -> Option<(usize, &'static Command)> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
    TABLE.get(lower).copied()
}

/// What a command runs with.
pub struct Ctx<'a> {
    /// Server-wide state.
    pub srv: &'a Shared,
    /// The calling connection's state.
    pub s: &'a mut Session,
    /// The reply buffer.
    pub out: &'a mut Reply,
}

impl Ctx<'_> {
    /// The stored key of a user key in the selected database.
    pub fn key(&self, key: &[u8]) -> Vec<u8> {
        db_key(self.s.db, key)
    }

    /// The current time in ms since the Unix epoch (the store's clock).
    pub fn now_ms(&self) -> u64 {
        self.srv.now_ms()
    }

    /// Records that this command may have made `key` (in the selected database) ready for
    /// clients blocked on it (a push, an add); they are served after the command.
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.srv.blocking.any() {
            self.s.ready_keys.push((self.s.db, Bytes::copy_from_slice(key)));
        }
    }

    /// Asks the connection to block this client (the handler found nothing to serve and
    /// wrote no reply). Inside `MULTI`/`EXEC` a blocking command never blocks: it replies as
    /// if it timed out, as in Redis.
    pub fn block(&mut self, req: crate::blocking::BlockRequest) {
        if self.s.in_exec {
            (req.on_timeout)(self.out);
        } else {
            self.s.block = Some(req);
        }
    }
}

// ---- argument helpers ----------------------------------------------------------------------

/// True if `arg` equals `word` ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parses an integer argument (Redis's `ERR value is not an integer or out of range`).
pub fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    crate::protocol::request::parse_int(arg).ok_or_else(CmdError::not_int)
}

/// Parses a non-negative integer argument with a custom error.
pub fn uint_arg(arg: &[u8], err: impl FnOnce() -> CmdError) -> Result<u64, CmdError> {
    match crate::protocol::request::parse_int(arg) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(err()),
    }
}

/// Parses a blocking timeout in seconds (decimals allowed; 0 = forever), with Redis's errors.
/// Like Redis 7.0, the timeout is rounded up to whole milliseconds, and one too large for
/// them (`inf` included) is reported as negative.
pub fn timeout_arg(arg: &[u8]) -> Result<Option<std::time::Duration>, CmdError> {
    let t = parse_float(arg).ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    let ms = (t * 1000.0).ceil();
    // -0.0001 rounds up to 0 (forever), as in Redis.
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CmdError::err("timeout is negative"));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    Ok(Some(std::time::Duration::from_millis(ms as u64)))
}

/// Parses a float argument like Redis's `getDoubleFromObject` (`inf`, `-inf`, `+inf`
/// accepted; no NaN, no spaces).
pub fn float_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_float(arg).ok_or_else(CmdError::not_float)
}

/// Parses a float like Redis: decimal or exponent notation, `inf`/`+inf`/`-inf` (any case);
/// rejects NaN, empty strings and surrounding spaces.
pub fn parse_float(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if !lower.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'-' | b'+')) {
                return None;
            }
            lower.parse::<f64>().ok()?
        }
    };
    (!v.is_nan()).then_some(v)
}

/// A lossy UTF-8 view of an argument for error messages, as Redis prints one with `%.128s`:
/// at most 128 bytes, and only up to a NUL byte (the argument is a C string to `printf`).
pub fn show(arg: &[u8]) -> String {
    let arg = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    String::from_utf8_lossy(&arg[..arg.len().min(128)]).into_owned()
}

/// [`show`] without the 128-byte cut, for Redis's messages that print an argument with `%s`.
pub fn show_all(arg: &[u8]) -> String {
    let arg = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    String::from_utf8_lossy(arg).into_owned()
}

/// Redis's `addReplySubcommandSyntaxError`: a container command's handler found its
/// subcommand unknown, or its arguments not of a count it takes (beyond the table's arity).
pub(crate) fn subcommand_syntax(args: &[Bytes]) -> CmdError {
    CmdError::err(format_args!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        show(&args[1]),
        show(&args[0]).to_ascii_uppercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_registered_once_and_well_formed() {
        assert!(count() > 10);
        for c in all() {
            assert_eq!(c.name, c.name.to_ascii_lowercase(), "{}", c.name);
            assert!(c.arity != 0, "{}", c.name);
            assert!(!c.summary.is_empty() && !c.group.is_empty() && !c.since.is_empty(), "{}", c.name);
            assert!(c.has(flags::WRITE) as u8 + c.has(flags::READONLY) as u8 <= 1, "{}", c.name);
        }
        assert_eq!(lookup(b"GeT").map(|(_, c)| c.name), Some("get"));
        assert!(lookup(b"nope").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn floats_parse_like_redis() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_float(b"1e3"), Some(1000.0));
        assert_eq!(parse_float(b".5"), Some(0.5));
        for bad in [&b""[..], b"nan", b" 1", b"1 ", b"abc", b"0x10"] {
            assert_eq!(parse_float(bad), None, "{:?}", show(bad));
        }
    }
}
