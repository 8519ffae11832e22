//! Publish/subscribe: the channel and pattern registries, and message delivery with output
//! limits.
//!
//! Each connection has a [`Mailbox`]: an unbounded queue of [`Push`] messages plus a counter
//! of the bytes queued in it. `PUBLISH` never waits for a subscriber: it enqueues and moves on.
//! A subscriber that does not read fast enough is disconnected by the `pubsub` class of
//! `client-output-buffer-limit` (hard limit at once, soft limit after its seconds), exactly
//! the remedy Redis applies, so a slow consumer can neither slow publishers down nor grow
//! memory without bound.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use crate::clients::ClientHandle;
use crate::config::OutputLimit;
use crate::glob::glob_match;

/// A message pushed to a subscriber.
#[derive(Debug, Clone)]
pub enum Push {
    /// A message on a channel it subscribed to.
    Message {
        /// The channel.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// A message on a channel matching a pattern it subscribed to.
    PMessage {
        /// The pattern.
        pattern: Bytes,
        /// The channel.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
}

impl Push {
    /// Approximate bytes this message takes in an output buffer.
    pub fn size(&self) -> usize {
        match self {
            Push::Message { channel, payload } => channel.len() + payload.len() + 32,
            Push::PMessage { pattern, channel, payload } => pattern.len() + channel.len() + payload.len() + 48,
        }
    }
}

/// The sending side of a connection's message queue.
#[derive(Debug, Clone)]
pub struct Mailbox {
    tx: mpsc::UnboundedSender<Push>,
    /// Bytes queued and not yet written to the socket.
    pub queued: Arc<AtomicUsize>,
    /// Milliseconds since the server started when the queue first went over the soft limit
    /// (0: it is not over).
    over_soft_since: Arc<AtomicU64>,
    client: Arc<ClientHandle>,
}

/// The receiving side, owned by the connection task.
#[derive(Debug)]
pub struct Inbox {
    /// The queue.
    pub rx: mpsc::UnboundedReceiver<Push>,
    /// Shared with the [`Mailbox`].
    pub queued: Arc<AtomicUsize>,
}

/// A connection's queue.
pub fn mailbox(client: Arc<ClientHandle>) -> (Mailbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (Mailbox { tx, queued: queued.clone(), over_soft_since: Arc::new(AtomicU64::new(0)), client }, Inbox { rx, queued })
}

impl Mailbox {
    /// Queues `msg` unless the client is over its output limits, in which case the client is
    /// disconnected instead. Returns true if the message was queued.
    fn deliver(&self, msg: Push, limit: OutputLimit, now_ms: u64) -> bool {
        if self.client.is_killed() {
            return false;
        }
        let size = msg.size();
        let queued = self.queued.load(Ordering::Relaxed) + size;
        if limit.hard > 0 && queued as u64 > limit.hard {
            tracing::warn!(client = self.client.id, addr = %self.client.addr, queued,
                "closing subscriber over the pubsub hard output buffer limit");
            self.client.kill();
            return false;
        }
        if limit.soft > 0 && queued as u64 > limit.soft {
            let since = self.over_soft_since.load(Ordering::Relaxed);
            if since == 0 {
                self.over_soft_since.store(now_ms.max(1), Ordering::Relaxed);
            } else if now_ms.saturating_sub(since) >= limit.soft_seconds * 1000 {
                tracing::warn!(client = self.client.id, addr = %self.client.addr, queued,
                    "closing subscriber over the pubsub soft output buffer limit for too long");
                self.client.kill();
                return false;
            }
        } else {
            self.over_soft_since.store(0, Ordering::Relaxed);
        }
        self.queued.fetch_add(size, Ordering::Relaxed);
        self.client.omem.store(queued, Ordering::Relaxed);
        self.tx.send(msg).is_ok()
    }
}

/// All subscriptions of the server.
#[derive(Debug)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, BTreeMap<u64, Mailbox>>>,
    patterns: RwLock<BTreeMap<Bytes, BTreeMap<u64, Mailbox>>>,
    /// Number of (client, pattern) subscriptions: publishing skips the pattern walk at 0.
    pattern_count: AtomicUsize,
    started: Instant,
    /// Messages published (`INFO`-style counter).
    pub published: AtomicU64,
    limit: Mutex<OutputLimit>,
}

impl PubSub {
    /// An empty registry delivering under `limit` (the `pubsub` output limit).
    pub fn new(limit: OutputLimit) -> PubSub {
        PubSub {
            channels: RwLock::new(HashMap::new()),
            patterns: RwLock::new(BTreeMap::new()),
            pattern_count: AtomicUsize::new(0),
            started: Instant::now(),
            published: AtomicU64::new(0),
            limit: Mutex::new(limit),
        }
    }

    /// Changes the output limit (after `CONFIG SET client-output-buffer-limit`).
    pub fn set_limit(&self, limit: OutputLimit) {
        *self.limit.lock() = limit;
    }

    /// Subscribes `mb`'s client to `channel`; false if it already was.
    pub fn subscribe(&self, channel: &Bytes, mb: &Mailbox) -> bool {
        self.channels.write().entry(channel.clone()).or_default().insert(mb.client.id, mb.clone()).is_none()
    }

    /// Unsubscribes client `id` from `channel`; false if it was not subscribed.
    pub fn unsubscribe(&self, channel: &[u8], id: u64) -> bool {
        let mut ch = self.channels.write();
        let Some(subs) = ch.get_mut(channel) else { return false };
        let removed = subs.remove(&id).is_some();
        if subs.is_empty() {
            ch.remove(channel);
        }
        removed
    }

    /// Subscribes `mb`'s client to `pattern`; false if it already was.
    pub fn psubscribe(&self, pattern: &Bytes, mb: &Mailbox) -> bool {
        let added =
            self.patterns.write().entry(pattern.clone()).or_default().insert(mb.client.id, mb.clone()).is_none();
        if added {
            self.pattern_count.fetch_add(1, Ordering::Relaxed);
        }
        added
    }

    /// Unsubscribes client `id` from `pattern`; false if it was not subscribed.
    pub fn punsubscribe(&self, pattern: &[u8], id: u64) -> bool {
        let mut p = self.patterns.write();
        let Some(subs) = p.get_mut(pattern) else { return false };
        let removed = subs.remove(&id).is_some();
        if subs.is_empty() {
            p.remove(pattern);
        }
        if removed {
            self.pattern_count.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// Delivers `payload` on `channel` to every subscriber; returns how many received it.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let limit = *self.limit.lock();
        let now = self.started.elapsed().as_millis() as u64;
        let mut n = 0;
        if let Some(subs) = self.channels.read().get(channel) {
            for mb in subs.values() {
                let msg = Push::Message { channel: channel.clone(), payload: payload.clone() };
                n += mb.deliver(msg, limit, now) as usize;
            }
        }
        if self.pattern_count.load(Ordering::Relaxed) > 0 {
            for (pattern, subs) in self.patterns.read().iter() {
                if !glob_match(pattern, channel, false) {
                    continue;
                }
                for mb in subs.values() {
                    let msg =
                        Push::PMessage { pattern: pattern.clone(), channel: channel.clone(), payload: payload.clone() };
                    n += mb.deliver(msg, limit, now) as usize;
                }
            }
        }
        self.published.fetch_add(1, Ordering::Relaxed);
        n
    }

    /// Active channels (with at least one subscriber) matching `pattern` (all if `None`).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut v: Vec<Bytes> =
            self.channels.read().keys().filter(|c| pattern.is_none_or(|p| glob_match(p, c, false))).cloned().collect();
        v.sort();
        v
    }

    /// Number of subscribers of `channel` (patterns not counted, as in Redis).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.read().get(channel).map_or(0, BTreeMap::len)
    }

    /// Number of channels with subscribers.
    pub fn channel_count(&self) -> usize {
        self.channels.read().len()
    }

    /// Number of distinct patterns subscribed to (`PUBSUB NUMPAT`, `INFO pubsub_patterns`).
    pub fn pattern_count(&self) -> usize {
        self.patterns.read().len()
    }
}
