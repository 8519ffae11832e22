//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::flags::*;
use super::{int_arg, is, show, Command, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::reply::Protocol;

/// The connection family.
pub static COMMANDS: &[Command] = &[
    Command {
        name: "ping",
        arity: -1,
        flags: FAST | STALE | LOADING | SUBSCRIBED_OK,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        summary: "Returns the server's liveliness response.",
        since: "1.0.0",
        run: ping,
    },
    Command {
        name: "echo",
        arity: 2,
        flags: FAST | STALE | LOADING,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        summary: "Returns the given string.",
        since: "1.0.0",
        run: echo,
    },
    Command {
        name: "hello",
        arity: -1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        summary: "Handshakes with the Redis server.",
        since: "6.0.0",
        run: hello,
    },
    Command {
        name: "auth",
        arity: -2,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        summary: "Authenticates the connection.",
        since: "1.0.0",
        run: auth,
    },
    Command {
        name: "select",
        arity: 2,
        flags: LOADING | STALE | FAST,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        summary: "Changes the selected database.",
        since: "1.0.0",
        run: select,
    },
    Command {
        name: "quit",
        arity: -1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SUBSCRIBED_OK | NO_MULTI,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        summary: "Closes the connection.",
        since: "1.0.0",
        run: quit,
    },
    Command {
        name: "reset",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SUBSCRIBED_OK | NO_MULTI,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        summary: "Resets the connection.",
        since: "6.2.0",
        run: reset,
    },
    Command {
        name: "client",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        summary: "A container for client connection commands.",
        since: "2.4.0",
        run: client,
    },
];

/// ```text
/// PING [message]
/// ```
fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.out.proto == Protocol::Resp2 && ctx.s.subscriptions() > 0 {
        // In RESP2 subscribed mode the reply is an array, as pub/sub messages are.
        return match args.len() {
            1 | 2 => {
                ctx.out.array(2);
                ctx.out.bulk(b"pong");
                ctx.out.bulk(args.get(1).map_or(&b""[..], |a| &a[..]));
                Ok(())
            }
            _ => Err(CmdError::wrong_args("ping")),
        };
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&args[1]),
        _ => return Err(CmdError::wrong_args("ping")),
    }
    Ok(())
}

/// ```text
/// ECHO message
/// ```
fn echo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&args[1]);
    Ok(())
}

/// Checks a password for `user` against `requirepass`. `Ok(())` on success.
fn check_password(ctx: &Ctx<'_>, user: Option<&[u8]>, pass: &[u8]) -> CmdResult {
    let wrongpass = || CmdError("WRONGPASS invalid username-password pair or user is disabled.".into());
    if user.is_some_and(|u| u != b"default") {
        return Err(wrongpass());
    }
    match &ctx.srv.config.read().requirepass {
        // The default user has no password: any password is accepted for it.
        None => Ok(()),
        Some(p) if constant_time_eq(p.as_bytes(), pass) => Ok(()),
        Some(_) => Err(wrongpass()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// ```text
/// AUTH [username] password
/// ```
fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (user, pass) = match args.len() {
        2 => (None, &args[1]),
        3 => (Some(&args[1][..]), &args[2]),
        _ => return Err(CmdError::syntax()),
    };
    if user.is_none() && ctx.srv.config.read().requirepass.is_none() {
        return Err(CmdError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    check_password(ctx, user, pass)?;
    ctx.s.authenticated = true;
    ctx.out.ok();
    Ok(())
}

/// ```text
/// HELLO [protover [AUTH username password] [SETNAME clientname]]
/// ```
fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if args.len() > 1 {
        let v = int_arg(&args[1]).map_err(|_| CmdError::err("Protocol version is not an integer or out of range"))?;
        proto = match v {
            2 => Some(Protocol::Resp2),
            3 => Some(Protocol::Resp3),
            _ => return Err(CmdError("NOPROTO unsupported protocol version".into())),
        };
        i = 2;
    }
    let mut name: Option<&Bytes> = None;
    let mut authed = false;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "AUTH") && more >= 2 {
            check_password(ctx, Some(&args[i + 1]), &args[i + 2])?;
            authed = true;
            i += 3;
        } else if is(&args[i], "SETNAME") && more >= 1 {
            validate_name(&args[i + 1])?;
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            return Err(CmdError::err(format_args!("Syntax error in HELLO option '{}'", show(&args[i]))));
        }
    }
    if authed {
        ctx.s.authenticated = true;
    }
    if !ctx.s.authenticated {
        return Err(CmdError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> \
             <pass> option can be used to authenticate the client and select the RESP protocol version at the same \
             time"
                .into(),
        ));
    }
    if let Some(n) = name {
        set_name(ctx, n);
    }
    if let Some(p) = proto {
        ctx.out.proto = p;
        ctx.s.handle.resp.store(p.number() as u8, Ordering::Relaxed);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(out.proto.number());
    out.bulk(b"id");
    out.int(ctx.s.id() as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// ```text
/// SELECT index
/// ```
fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // Redis's `getIntFromObjectOrReply`: a C int first, then the database range.
    let n = super::sets::long_in_range(&args[1], i32::MIN as i64, i32::MAX as i64, None)?;
    let dbs = ctx.srv.config.read().databases as i64;
    if n < 0 || n >= dbs {
        return Err(CmdError::err("DB index is out of range"));
    }
    ctx.s.select(n as u8);
    ctx.out.ok();
    Ok(())
}

/// ```text
/// QUIT
/// ```
fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.s.close = true;
    ctx.out.ok();
    Ok(())
}

/// ```text
/// RESET
/// ```
fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::pubsub::unsubscribe_channels(ctx, &[], false);
    super::pubsub::unsubscribe_patterns(ctx, &[], false);
    super::multi::end_multi(ctx);
    super::multi::unwatch_all(ctx);
    ctx.s.select(0);
    ctx.out.proto = Protocol::Resp2;
    ctx.s.handle.resp.store(2, Ordering::Relaxed);
    *ctx.s.handle.name.lock() = None;
    ctx.s.authenticated = ctx.srv.config.read().requirepass.is_none();
    ctx.out.simple("RESET");
    Ok(())
}

/// Client names may not contain spaces, newlines or other special characters.
fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::err("Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

fn set_name(ctx: &mut Ctx<'_>, name: &[u8]) {
    *ctx.s.handle.name.lock() = (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned());
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Record the client library's name or version.",
    "HELP",
    "    Prints this help.",
];

/// ```text
/// CLIENT ID | SETNAME name | GETNAME | LIST [TYPE t] [ID id ...] | INFO | KILL … |
///        NO-EVICT ON|OFF | NO-TOUCH ON|OFF | SETINFO LIB-NAME|LIB-VER v | HELP
/// ```
fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let n = args.len();
    let wrong = || {
        CmdError::err(format_args!("wrong number of arguments for 'client|{}' command", show(sub).to_ascii_lowercase()))
    };
    if is(sub, "ID") {
        if n != 2 {
            return Err(wrong());
        }
        ctx.out.int(ctx.s.id() as i64);
    } else if is(sub, "GETNAME") {
        if n != 2 {
            return Err(wrong());
        }
        let name = ctx.s.handle.name.lock().clone();
        ctx.out.opt_bulk(name.as_deref().map(str::as_bytes));
    } else if is(sub, "SETNAME") {
        if n != 3 {
            return Err(wrong());
        }
        validate_name(&args[2])?;
        set_name(ctx, &args[2]);
        ctx.out.ok();
    } else if is(sub, "INFO") {
        if n != 2 {
            return Err(wrong());
        }
        let line = ctx.s.handle.info_line() + "\n";
        ctx.out.verbatim("txt", line.as_bytes());
    } else if is(sub, "LIST") {
        client_list(ctx, args)?;
    } else if is(sub, "KILL") {
        if n < 3 {
            return Err(wrong());
        }
        client_kill(ctx, args)?;
    } else if is(sub, "NO-EVICT") || is(sub, "NO-TOUCH") {
        if n != 3 {
            return Err(wrong());
        }
        if !is(&args[2], "ON") && !is(&args[2], "OFF") {
            return Err(CmdError::syntax());
        }
        ctx.out.ok();
    } else if is(sub, "SETINFO") {
        if n != 4 {
            return Err(wrong());
        }
        if !is(&args[2], "LIB-NAME") && !is(&args[2], "LIB-VER") {
            return Err(CmdError::err(format_args!("Unrecognized option '{}'", show(&args[2]))));
        }
        ctx.out.ok();
    } else if is(sub, "HELP") {
        ctx.out.array(CLIENT_HELP.len());
        for l in CLIENT_HELP {
            ctx.out.simple(l);
        }
    } else {
        return Err(CmdError::unknown_subcommand(sub, "client"));
    }
    Ok(())
}

fn client_type_ok(t: &[u8]) -> Result<bool, CmdError> {
    if is(t, "NORMAL") {
        Ok(true)
    } else if is(t, "PUBSUB") || is(t, "MASTER") || is(t, "REPLICA") || is(t, "SLAVE") {
        Ok(false)
    } else {
        Err(CmdError::err(format_args!("Unknown client type '{}'", show(t))))
    }
}

fn client_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut type_filter: Option<Bytes> = None;
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "TYPE") && i + 1 < args.len() {
            client_type_ok(&args[i + 1])?;
            type_filter = Some(args[i + 1].clone());
            i += 2;
        } else if is(&args[i], "ID") && i + 1 < args.len() {
            let mut v = Vec::new();
            for a in &args[i + 1..] {
                match int_arg(a) {
                    Ok(id) if id > 0 => v.push(id as u64),
                    _ => return Err(CmdError::err("Invalid client ID")),
                }
            }
            ids = Some(v);
            i = args.len();
        } else {
            return Err(CmdError::syntax());
        }
    }
    let mut text = String::new();
    for c in ctx.srv.clients.all() {
        if ids.as_ref().is_some_and(|v| !v.contains(&c.id)) {
            continue;
        }
        if let Some(t) = &type_filter {
            let pubsub = c.subs.load(Ordering::Relaxed) + c.psubs.load(Ordering::Relaxed) > 0;
            let wanted_normal = is(t, "NORMAL");
            let wanted_pubsub = is(t, "PUBSUB");
            if !(wanted_normal && !pubsub || wanted_pubsub && pubsub) {
                continue;
            }
        }
        text.push_str(&c.info_line());
        text.push('\n');
    }
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let me = ctx.s.id();
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = &args[2];
        let Some(c) = ctx.srv.clients.all().into_iter().find(|c| c.addr.as_bytes() == &addr[..]) else {
            return Err(CmdError::err("No such client"));
        };
        if c.id == me {
            ctx.s.close = true;
        } else {
            c.kill();
        }
        ctx.out.ok();
        return Ok(());
    }
    if !(args.len() - 2).is_multiple_of(2) {
        return Err(CmdError::syntax());
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut kind = None;
    let mut user = None;
    let mut skipme = true;
    for pair in args[2..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "ID") {
            match int_arg(val) {
                Ok(v) if v > 0 => id = Some(v as u64),
                _ => return Err(CmdError::err("client-id should be greater than 0")),
            }
        } else if is(opt, "ADDR") {
            addr = Some(val.clone());
        } else if is(opt, "LADDR") {
            laddr = Some(val.clone());
        } else if is(opt, "TYPE") {
            kind = Some(client_type_ok(val)?);
        } else if is(opt, "USER") {
            if !is(val, "default") {
                return Err(CmdError::err(format_args!("No such user '{}'", show(val))));
            }
            user = Some(val.clone());
        } else if is(opt, "SKIPME") {
            skipme = if is(val, "YES") {
                true
            } else if is(val, "NO") {
                false
            } else {
                return Err(CmdError::syntax());
            };
        } else {
            return Err(CmdError::syntax());
        }
    }
    let mut killed = 0;
    for c in ctx.srv.clients.all() {
        if id.is_some_and(|i| i != c.id)
            || addr.as_ref().is_some_and(|a| a[..] != *c.addr.as_bytes())
            || laddr.as_ref().is_some_and(|a| a[..] != *c.laddr.as_bytes())
            || kind == Some(false)
            || user.as_ref().is_some_and(|u| &u[..] != b"default")
            || (skipme && c.id == me)
        {
            continue;
        }
        if c.id == me {
            ctx.s.close = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    ctx.out.int(killed);
    Ok(())
}
