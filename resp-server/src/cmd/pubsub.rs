//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
//!
//! Subscription confirmations are push messages (RESP3 `>`; arrays in RESP2), one per
//! channel, carrying the client's total subscription count, as in Redis. Messages themselves
//! are delivered through the connection's mailbox (see [`crate::pubsub`]).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::flags::*;
use super::{is, Command, Ctx};
use crate::error::CmdResult;

macro_rules! pubsub_cmd {
    ($name:literal, $arity:expr, $flags:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: 0,
            last_key: 0,
            step: 0,
            group: "pubsub",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The pub/sub family.
pub static COMMANDS: &[Command] = &[
    pubsub_cmd!(
        "subscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK,
        "Listens for messages published to channels.",
        "2.0.0",
        subscribe
    ),
    pubsub_cmd!(
        "unsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK,
        "Stops listening to messages posted to channels.",
        "2.0.0",
        unsubscribe
    ),
    pubsub_cmd!(
        "psubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK,
        "Listens for messages published to channels that match one or more patterns.",
        "2.0.0",
        psubscribe
    ),
    pubsub_cmd!(
        "punsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK,
        "Stops listening to messages published to channels that match one or more patterns.",
        "2.0.0",
        punsubscribe
    ),
    pubsub_cmd!("publish", 3, PUBSUB | LOADING | STALE | FAST, "Posts a message to a channel.", "2.0.0", publish),
    pubsub_cmd!("pubsub", -2, PUBSUB | LOADING | STALE, "A container for Pub/Sub commands.", "2.8.0", pubsub),
];

/// Writes one subscription confirmation: `[kind, name, count]`.
fn confirm(ctx: &mut Ctx<'_>, kind: &str, name: Option<&[u8]>) {
    let count = ctx.s.subscriptions() as i64;
    ctx.out.push(3);
    ctx.out.bulk(kind.as_bytes());
    ctx.out.opt_bulk(name);
    ctx.out.int(count);
}

fn update_counts(ctx: &Ctx<'_>) {
    ctx.s.handle.subs.store(ctx.s.channels.len(), Ordering::Relaxed);
    ctx.s.handle.psubs.store(ctx.s.patterns.len(), Ordering::Relaxed);
}

/// ```text
/// SUBSCRIBE channel [channel ...]
/// ```
fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    for ch in &args[1..] {
        if ctx.s.channels.insert(ch.clone()) {
            ctx.srv.pubsub.subscribe(ch, &ctx.s.mailbox);
        }
        confirm(ctx, "subscribe", Some(ch));
    }
    update_counts(ctx);
    Ok(())
}

/// Unsubscribes from every channel in `names` (all when empty).
pub fn unsubscribe_channels(ctx: &mut Ctx<'_>, names: &[Bytes], reply: bool) {
    let names: Vec<Bytes> = if names.is_empty() { ctx.s.channels.iter().cloned().collect() } else { names.to_vec() };
    if names.is_empty() && reply {
        confirm(ctx, "unsubscribe", None);
    }
    for ch in names {
        if ctx.s.channels.remove(&ch) {
            ctx.srv.pubsub.unsubscribe(&ch, ctx.s.id());
        }
        if reply {
            confirm(ctx, "unsubscribe", Some(&ch));
        }
    }
    update_counts(ctx);
}

/// Unsubscribes from every pattern in `names` (all when empty).
pub fn unsubscribe_patterns(ctx: &mut Ctx<'_>, names: &[Bytes], reply: bool) {
    let names: Vec<Bytes> = if names.is_empty() { ctx.s.patterns.iter().cloned().collect() } else { names.to_vec() };
    if names.is_empty() && reply {
        confirm(ctx, "punsubscribe", None);
    }
    for p in names {
        if ctx.s.patterns.remove(&p) {
            ctx.srv.pubsub.punsubscribe(&p, ctx.s.id());
        }
        if reply {
            confirm(ctx, "punsubscribe", Some(&p));
        }
    }
    update_counts(ctx);
}

/// ```text
/// UNSUBSCRIBE [channel [channel ...]]
/// ```
fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_channels(ctx, &args[1..], true);
    Ok(())
}

/// ```text
/// PSUBSCRIBE pattern [pattern ...]
/// ```
fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    for p in &args[1..] {
        if ctx.s.patterns.insert(p.clone()) {
            ctx.srv.pubsub.psubscribe(p, &ctx.s.mailbox);
        }
        confirm(ctx, "psubscribe", Some(p));
    }
    update_counts(ctx);
    Ok(())
}

/// ```text
/// PUNSUBSCRIBE [pattern [pattern ...]]
/// ```
fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_patterns(ctx, &args[1..], true);
    Ok(())
}

/// ```text
/// PUBLISH channel message
/// ```
fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.pubsub.publish(&args[1], &args[2]);
    ctx.out.int(n as i64);
    Ok(())
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// ```text
/// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | SHARDCHANNELS [pattern] |
///        SHARDNUMSUB [channel ...] | HELP
/// ```
fn pubsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    super::check_sub(args, "pubsub", PUBSUB_SUBS)?;
    if is(sub, "CHANNELS") || is(sub, "SHARDCHANNELS") {
        if args.len() > 3 {
            // Past the table's arity (-2): Redis's handler refuses it this way.
            return Err(super::subcommand_syntax(args));
        }
        // Sharded channels are a cluster feature: there are none here.
        let chans = if is(sub, "CHANNELS") { ctx.srv.pubsub.channels(args.get(2).map(|p| &p[..])) } else { Vec::new() };
        ctx.out.bulks(&chans);
    } else if is(sub, "NUMSUB") || is(sub, "SHARDNUMSUB") {
        let shard = is(sub, "SHARDNUMSUB");
        // A flat array even in RESP3, as Redis replies.
        ctx.out.array((args.len() - 2) * 2);
        for ch in &args[2..] {
            ctx.out.bulk(ch);
            ctx.out.int(if shard { 0 } else { ctx.srv.pubsub.numsub(ch) as i64 });
        }
    } else if is(sub, "NUMPAT") {
        ctx.out.int(ctx.srv.pubsub.pattern_count() as i64);
    } else if is(sub, "HELP") {
        ctx.out.array(PUBSUB_HELP.len());
        for l in PUBSUB_HELP {
            ctx.out.simple(l);
        }
    }
    Ok(())
}

/// `PUBSUB`'s subcommands and their Redis arities.
pub(crate) static PUBSUB_SUBS: &[(&str, i32)] =
    &[("channels", -2), ("numpat", 2), ("numsub", -2), ("shardchannels", -2), ("shardnumsub", -2), ("help", 2)];
