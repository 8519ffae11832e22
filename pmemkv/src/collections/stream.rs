//! Streams: each entry is an element key `E…version ++ ms u64-BE ++ seq u64-BE` whose value
//! holds the entry's field/value pairs; the metadata record holds the length, the last id
//! (new ids must be greater), the first id, the number of entries ever added and the
//! greatest deleted id. Append, delete and range by id are O(log n) (+ k for ranges);
//! trimming is O(removed · log n).
//!
//! As in Redis, a stream is not deleted when its last entry is deleted or trimmed: it keeps
//! its last id, so ids stay strictly increasing.

use std::collections::HashMap;
use std::fmt;
use std::ops::Bound;

use crate::collections::keys::{
    consumer_key, consumer_pel_key, consumer_pel_prefix, consumers_prefix, group_key, groups_prefix, pel_key,
    pel_prefix, space_prefix, stream_key, CollMeta, ConsumerMeta, GroupMeta, KeyType, Nack, ELEM_SPACE, GROUP_SPACE,
    TAG_CONSUMER_PEL,
};
use crate::collections::{non_empty, tx_coll, tx_fresh_version, tx_store_meta, Collections};
use crate::error::{Error, Result};
use crate::iter::{prefix_successor, Direction, KeyRange};
use crate::store::Txn;

/// A stream entry id, `ms-seq`; ordered by `ms`, then `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest id, `0-0` (never a valid entry id).
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The greatest id.
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    /// The id `ms-seq`.
    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The 16-byte big-endian encoding (`ms` then `seq`), whose byte order is the id order.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// Decodes [`StreamId::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        Some(StreamId {
            ms: u64::from_be_bytes(b[..8].try_into().ok()?),
            seq: u64::from_be_bytes(b[8..].try_into().ok()?),
        })
    }

    /// The next id, if any.
    pub fn successor(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The id of a new entry (`XADD`'s id argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAddId {
    /// `*`: the current time (from the store's clock) with sequence 0, or the last id + 1 if
    /// the clock is not ahead of it.
    Auto,
    /// `ms-*`: this ms with the next free sequence number.
    AutoSeq(u64),
    /// `ms-seq`: exactly this id, which must be greater than the last one.
    Explicit(StreamId),
}

/// Options of [`Collections::xadd_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XAddOptions {
    /// `NOMKSTREAM`: do not create the stream if it does not exist.
    pub no_mkstream: bool,
    /// `MAXLEN n`: trim the oldest entries so that at most this many remain (exact, in the
    /// same transaction).
    pub max_len: Option<u64>,
    /// `MAXLEN`/`MINID` with `=`/`~` and `LIMIT`: trimming after the append, in the same
    /// transaction.
    pub trim: Option<StreamTrim>,
}

/// What trimming keeps (`XTRIM`, `XADD`'s trimming options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimStrategy {
    /// `MAXLEN n`: delete the oldest entries until at most `n` remain.
    MaxLen(u64),
    /// `MINID id`: delete the entries with ids below `id`.
    MinId(StreamId),
}

/// A trimming request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamTrim {
    /// What to keep.
    pub strategy: TrimStrategy,
    /// `~`: delete only whole nodes of [`APPROX_NODE_ENTRIES`] entries, as Redis deletes whole
    /// radix-tree nodes (so fewer entries may be deleted than asked).
    pub approx: bool,
    /// `LIMIT`: delete at most this many entries (0: no limit; only with `approx`).
    pub limit: u64,
}

/// The node size approximate trimming works in (Redis's `stream-node-max-entries` default):
/// the oldest entries are taken in groups of this many, and only whole groups are deleted.
pub const APPROX_NODE_ENTRIES: usize = 100;

/// One stream entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// The entry's id.
    pub id: StreamId,
    /// Its field/value pairs, in the order given to `XADD`.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Summary of a stream (for `XINFO STREAM`, and `$` in `XREAD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    /// Number of entries.
    pub length: u64,
    /// Greatest id ever added (`0-0` if none).
    pub last_id: StreamId,
    /// Id of the first entry, if the stream is not empty.
    pub first_id: Option<StreamId>,
    /// Number of entries ever added.
    pub entries_added: u64,
    /// Greatest id ever deleted by `XDEL` (`0-0` if none).
    pub max_deleted_id: StreamId,
}

fn err(msg: &str) -> Error {
    Error::InvalidArgument(msg.into())
}

const SMALLER_ID: &str = "The ID specified in XADD is equal or smaller than the target stream top item";

fn encode_fields<F: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(F, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(fields.len() as u32).to_be_bytes());
    for (f, v) in fields {
        for part in [f.as_ref(), v.as_ref()] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

fn decode_fields(mut b: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (h, t) = (b.get(..n)?, b.get(n..)?);
        *b = t;
        Some(h)
    }
    fn part(b: &mut &[u8]) -> Option<Vec<u8>> {
        let n = u32::from_be_bytes(take(b, 4)?.try_into().ok()?) as usize;
        take(b, n).map(<[u8]>::to_vec)
    }
    let n = u32::from_be_bytes(take(&mut b, 4)?.try_into().ok()?) as usize;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let f = part(&mut b)?;
        let v = part(&mut b)?;
        out.push((f, v));
    }
    b.is_empty().then_some(out)
}

impl Collections {
    /// Appends an entry to stream `key` (`XADD`), creating the stream if needed, and returns
    /// its id. Ids are strictly increasing: an explicit id not greater than the last one
    /// fails with Redis's message, `0-0` is rejected. `fields` must not be empty.
    pub fn xadd<F: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: &[u8], id: XAddId, fields: &[(F, V)]) -> Result<StreamId> {
        Ok(self.xadd_with(key, id, fields, XAddOptions::default())?.expect("xadd without NOMKSTREAM always adds"))
    }

    /// [`Collections::xadd`] with `NOMKSTREAM` and `MAXLEN` (atomic with the append).
    /// Returns `None` if `no_mkstream` is set and the stream does not exist.
    pub fn xadd_with<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: &[u8],
        id: XAddId,
        fields: &[(F, V)],
        opts: XAddOptions,
    ) -> Result<Option<StreamId>> {
        non_empty(fields, "xadd")?;
        if id == XAddId::Explicit(StreamId::MIN) {
            return Err(err("The ID specified in XADD must be greater than 0-0"));
        }
        self.store.update(|txn| {
            let (mut m, expiry) = match tx_coll(&self.store, txn, key, KeyType::Stream)? {
                Some(x) => x,
                None if opts.no_mkstream => return Ok(None),
                None => (CollMeta::new(KeyType::Stream, tx_fresh_version(&self.store, txn, key)?), None),
            };
            let last = m.stream.last_id;
            if last == StreamId::MAX {
                return Err(err("The stream has exhausted the last possible ID, unable to add more items"));
            }
            let new = match id {
                XAddId::Auto => {
                    let now = (self.store.options().clock)();
                    if now > last.ms {
                        StreamId::new(now, 0)
                    } else {
                        last.successor().ok_or_else(|| {
                            err("The stream has exhausted the last possible ID, unable to add more items")
                        })?
                    }
                }
                XAddId::AutoSeq(ms) if ms > last.ms => StreamId::new(ms, 0),
                XAddId::AutoSeq(ms) if ms == last.ms => {
                    StreamId::new(ms, last.seq.checked_add(1).ok_or_else(|| err(SMALLER_ID))?)
                }
                XAddId::AutoSeq(_) => return Err(err(SMALLER_ID)),
                XAddId::Explicit(id) if id > last => id,
                XAddId::Explicit(_) => return Err(err(SMALLER_ID)),
            };
            txn.put(&stream_key(key, m.version, new), &encode_fields(fields))?;
            m.count += 1;
            m.stream.last_id = new;
            m.stream.entries_added += 1;
            if m.stream.first_id == StreamId::MIN {
                m.stream.first_id = new;
            }
            if let Some(max_len) = opts.max_len {
                self.trim_front(txn, key, &mut m, max_len)?;
            }
            if let Some(t) = opts.trim {
                self.trim_with(txn, key, &mut m, t)?;
            }
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(Some(new))
        })
    }

    /// Number of entries of stream `key` (`XLEN`); O(1).
    pub fn xlen(&self, key: &[u8]) -> Result<u64> {
        Ok(self.load_coll(key, KeyType::Stream)?.map_or(0, |m| m.count))
    }

    /// Summary of stream `key`, `None` if it does not exist.
    pub fn stream_info(&self, key: &[u8]) -> Result<Option<StreamInfo>> {
        Ok(self.load_coll(key, KeyType::Stream)?.map(|m| StreamInfo {
            length: m.count,
            last_id: m.stream.last_id,
            first_id: (m.count > 0).then_some(m.stream.first_id),
            entries_added: m.stream.entries_added,
            max_deleted_id: m.stream.max_deleted_id,
        }))
    }

    /// Entries with ids in `min..max`, oldest first, at most `count` (`XRANGE`; `-`/`+` are
    /// `Unbounded`, `(id` is `Excluded`). O(log n + k).
    pub fn xrange(
        &self,
        key: &[u8],
        min: Bound<StreamId>,
        max: Bound<StreamId>,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>> {
        self.xrange_dir(key, min, max, count, Direction::Forward)
    }

    /// Entries with ids in `min..max`, newest first, at most `count` (`XREVRANGE`, which
    /// takes the bounds in the opposite order on the command line). O(log n + k).
    pub fn xrevrange(
        &self,
        key: &[u8],
        min: Bound<StreamId>,
        max: Bound<StreamId>,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>> {
        self.xrange_dir(key, min, max, count, Direction::Reverse)
    }

    fn xrange_dir(
        &self,
        key: &[u8],
        min: Bound<StreamId>,
        max: Bound<StreamId>,
        count: Option<usize>,
        dir: Direction,
    ) -> Result<Vec<StreamEntry>> {
        let Some(m) = self.load_coll(key, KeyType::Stream)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let at = |id: StreamId| stream_key(key, m.version, id);
        let range = KeyRange {
            start: match min {
                Bound::Included(id) => Bound::Included(at(id)),
                Bound::Excluded(id) => Bound::Excluded(at(id)),
                Bound::Unbounded => Bound::Included(prefix.clone()),
            },
            end: match max {
                Bound::Included(id) => Bound::Included(at(id)),
                Bound::Excluded(id) => Bound::Excluded(at(id)),
                Bound::Unbounded => prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
            },
        };
        let mut out = Vec::new();
        for r in self.store.iter_range(range, dir).take(count.unwrap_or(usize::MAX)) {
            let (k, v) = r?;
            let id = StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| self.bad_entry(key))?;
            let fields = decode_fields(&v).ok_or_else(|| self.bad_entry(key))?;
            out.push(StreamEntry { id, fields });
        }
        Ok(out)
    }

    /// Deletes entries by id (`XDEL`); returns the number deleted. The stream remains (with
    /// its last id) even if it becomes empty.
    pub fn xdel(&self, key: &[u8], ids: &[StreamId]) -> Result<u64> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::Stream)? else { return Ok(0) };
            let mut removed = 0;
            let mut first_deleted = false;
            for &id in ids {
                if txn.delete(&stream_key(key, m.version, id))? {
                    removed += 1;
                    first_deleted |= id == m.stream.first_id;
                    m.stream.max_deleted_id = m.stream.max_deleted_id.max(id);
                }
            }
            if removed == 0 {
                return Ok(0);
            }
            m.count -= removed;
            if first_deleted {
                m.stream.first_id = self.first_entry(txn, key, &m)?.unwrap_or(StreamId::MIN);
            }
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(removed)
        })
    }

    /// Deletes the oldest entries so that at most `max_len` remain (`XTRIM MAXLEN =`);
    /// returns the number deleted. O((removed + 1) · log n).
    pub fn xtrim_maxlen(&self, key: &[u8], max_len: u64) -> Result<u64> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::Stream)? else { return Ok(0) };
            let removed = self.trim_front(txn, key, &mut m, max_len)?;
            if removed > 0 {
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(removed)
        })
    }

    /// Trims stream `key` (`XTRIM`) by length or minimum id, exactly or approximately (see
    /// [`StreamTrim`]); returns the number of entries deleted. O((removed + 1) · log n).
    pub fn xtrim(&self, key: &[u8], trim: StreamTrim) -> Result<u64> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::Stream)? else { return Ok(0) };
            let removed = self.trim_with(txn, key, &mut m, trim)?;
            if removed > 0 {
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(removed)
        })
    }

    /// Deletes entries from the front as `t` asks; updates `m`.
    fn trim_with(&self, txn: &mut Txn<'_>, key: &[u8], m: &mut CollMeta, t: StreamTrim) -> Result<u64> {
        if m.count == 0 {
            return Ok(0);
        }
        let node = if t.approx { APPROX_NODE_ENTRIES } else { 1 };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let range = KeyRange {
            start: Bound::Included(stream_key(key, m.version, m.stream.first_id)),
            end: prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
        };
        let mut it = txn.iter_range(range, Direction::Forward).keys();
        let decode = |k: &[u8]| StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| self.bad_entry(key));
        // Every key taken from the iterator, oldest first; the first `deleted` are doomed.
        let mut seen: Vec<(Vec<u8>, StreamId)> = Vec::new();
        let mut deleted = 0usize;
        loop {
            let left = m.count - deleted as u64;
            if let TrimStrategy::MaxLen(n) = t.strategy {
                if left <= n {
                    break;
                }
            }
            while seen.len() < deleted + node {
                match it.next() {
                    Some(r) => {
                        let k = r?.0;
                        let id = decode(&k)?;
                        seen.push((k, id));
                    }
                    None => break,
                }
            }
            let chunk = &seen[deleted..];
            if chunk.is_empty() {
                break;
            }
            let whole = match t.strategy {
                TrimStrategy::MaxLen(n) => left - chunk.len() as u64 >= n,
                TrimStrategy::MinId(min) => chunk.last().is_some_and(|(_, id)| *id < min),
            };
            if !whole || (t.limit > 0 && (deleted + chunk.len()) as u64 > t.limit) {
                break;
            }
            deleted += chunk.len();
        }
        if deleted == 0 {
            return Ok(0);
        }
        let next_first = match seen.get(deleted) {
            Some((_, id)) => *id,
            None => match it.next() {
                Some(r) => decode(&r?.0)?,
                None => StreamId::MIN,
            },
        };
        drop(it);
        for (k, _) in &seen[..deleted] {
            txn.delete(k)?;
        }
        m.count -= deleted as u64;
        m.stream.first_id = next_first;
        Ok(deleted as u64)
    }

    /// Deletes entries from the front until at most `max_len` remain; updates `m`.
    fn trim_front(&self, txn: &mut Txn<'_>, key: &[u8], m: &mut CollMeta, max_len: u64) -> Result<u64> {
        let excess = m.count.saturating_sub(max_len);
        if excess == 0 {
            return Ok(0);
        }
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        // Start at the first entry: older keys are all deleted (only tombstones remain there).
        let range = KeyRange {
            start: Bound::Included(stream_key(key, m.version, m.stream.first_id)),
            end: prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
        };
        let mut it = txn.iter_range(range, Direction::Forward).keys();
        let mut doomed = Vec::with_capacity(excess as usize);
        while (doomed.len() as u64) < excess {
            let Some(r) = it.next() else { break };
            doomed.push(r?.0);
        }
        let next_first = match it.next() {
            Some(r) => StreamId::from_bytes(&r?.0[prefix.len()..]).ok_or_else(|| self.bad_entry(key))?,
            None => StreamId::MIN,
        };
        for k in &doomed {
            txn.delete(k)?;
        }
        m.count -= doomed.len() as u64;
        m.stream.first_id = next_first;
        Ok(doomed.len() as u64)
    }

    /// The id of the first live entry of stream `m` in `txn` (seeks from the recorded first
    /// id, so tombstones of older entries are not walked).
    fn first_entry(&self, txn: &Txn<'_>, key: &[u8], m: &CollMeta) -> Result<Option<StreamId>> {
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let range = KeyRange {
            start: Bound::Included(stream_key(key, m.version, m.stream.first_id)),
            end: prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
        };
        match txn.iter_range(range, Direction::Forward).next_key()? {
            None => Ok(None),
            Some((k, _)) => Ok(Some(StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| self.bad_entry(key))?)),
        }
    }

    fn bad_entry(&self, key: &[u8]) -> Error {
        Error::corruption(
            self.store.path(),
            0,
            format!("stream {:?} has a malformed entry", String::from_utf8_lossy(key)),
        )
    }
}

// ---- consumer groups -------------------------------------------------------------------------

/// The field/value pairs of an entry.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The result of a consumer-group operation on a stream that may be missing or lack the
/// group (the server words the error per command, as Redis does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOutcome<T> {
    /// The key does not exist.
    NoStream,
    /// The stream has no such group.
    NoGroup,
    /// Done.
    Done(T),
}

impl<T> GroupOutcome<T> {
    /// The value if done.
    pub fn done(self) -> Option<T> {
        match self {
            GroupOutcome::Done(t) => Some(t),
            _ => None,
        }
    }
}

/// What [`Collections::xgroup_create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCreate {
    /// The group was created.
    Created,
    /// A group of that name exists (`BUSYGROUP`).
    Exists,
    /// The key does not exist (and `MKSTREAM` was not given).
    NoStream,
}

/// Which entries [`Collections::xreadgroup`] delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRead {
    /// `>`: entries never delivered to the group (after its last-delivered id).
    New,
    /// An explicit id: the consumer's own pending entries with greater ids (its history).
    History(StreamId),
}

/// An entry delivered to a consumer; `fields` is `None` for a pending entry that was deleted
/// from the stream meanwhile (history reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// The entry's id.
    pub id: StreamId,
    /// Its field/value pairs, if it still exists.
    pub fields: Option<Fields>,
}

/// A consumer group (`XINFO GROUPS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamGroup {
    /// Its name.
    pub name: Vec<u8>,
    /// Number of consumers.
    pub consumers: u64,
    /// Number of pending (delivered, unacknowledged) entries.
    pub pending: u64,
    /// The last id delivered.
    pub last_id: StreamId,
    /// The logical read counter (`None`: unknown).
    pub entries_read: Option<u64>,
    /// Entries not yet delivered (`None`: cannot be computed, as in Redis; negative when the
    /// read counter was set above the entries added, as Redis reports it).
    pub lag: Option<i64>,
}

/// A consumer of a group (`XINFO CONSUMERS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConsumer {
    /// Its name.
    pub name: Vec<u8>,
    /// When it last read or claimed (ms since the Unix epoch).
    pub seen_time: u64,
    /// Number of its pending entries.
    pub pending: u64,
}

/// A pending entry (`XPENDING`'s extended form, `XINFO STREAM FULL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    /// The entry's id.
    pub id: StreamId,
    /// Its owner.
    pub consumer: Vec<u8>,
    /// When it was last delivered (ms since the Unix epoch).
    pub delivery_time: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// The summary form of `XPENDING`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    /// Number of pending entries.
    pub count: u64,
    /// Smallest and greatest pending ids (`None` if nothing is pending).
    pub range: Option<(StreamId, StreamId)>,
    /// Consumers with pending entries and how many, in name order.
    pub consumers: Vec<(Vec<u8>, u64)>,
}

/// A group with its PEL and consumers (`XINFO STREAM FULL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDetail {
    /// The group.
    pub group: StreamGroup,
    /// The first pending entries of the group.
    pub pending: Vec<PendingEntry>,
    /// Each consumer with its first pending entries.
    pub consumers: Vec<(StreamConsumer, Vec<PendingEntry>)>,
}

/// Options of [`Collections::xclaim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClaimOptions {
    /// `IDLE`/`TIME`: the delivery time to record (absolute ms; clamped to now; default now).
    pub delivery_time: Option<i64>,
    /// `RETRYCOUNT`: the delivery count to set.
    pub retry_count: Option<u64>,
    /// `FORCE`: create pending entries for ids not pending (if the entry exists).
    pub force: bool,
    /// `JUSTID`: do not increment the delivery count (the caller replies with ids only).
    pub just_id: bool,
    /// `LASTID`: raise the group's last-delivered id to this.
    pub last_id: Option<StreamId>,
}

/// The result of [`Collections::xautoclaim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoClaim {
    /// Where the next call should start (`0-0`: the scan is complete).
    pub next: StreamId,
    /// The claimed entries, in id order.
    pub claimed: Vec<StreamEntry>,
    /// Pending ids whose entries no longer exist (removed from the PEL).
    pub deleted: Vec<StreamId>,
}

/// A group loaded in a transaction, with the consumers it touched (written back by
/// [`GroupTx::flush`]).
struct GroupTx<'k> {
    key: &'k [u8],
    version: u64,
    name: &'k [u8],
    meta: GroupMeta,
    consumers: HashMap<Vec<u8>, (Option<ConsumerMeta>, bool)>,
}

impl<'k> GroupTx<'k> {
    fn load(txn: &Txn<'_>, key: &'k [u8], m: &CollMeta, name: &'k [u8]) -> Result<Option<GroupTx<'k>>> {
        let Some(v) = txn.get(&group_key(key, m.version, name))? else { return Ok(None) };
        let meta = GroupMeta::decode(&v).ok_or_else(|| bad_group(key))?;
        Ok(Some(GroupTx { key, version: m.version, name, meta, consumers: HashMap::new() }))
    }

    /// The consumer `c` (loaded once per transaction), `None` if it does not exist.
    fn consumer(&mut self, txn: &Txn<'_>, c: &[u8]) -> Result<Option<&mut ConsumerMeta>> {
        if !self.consumers.contains_key(c) {
            let meta = match txn.get(&consumer_key(self.key, self.version, self.name, c))? {
                Some(v) => Some(ConsumerMeta::decode(&v).ok_or_else(|| bad_group(self.key))?),
                None => None,
            };
            self.consumers.insert(c.to_vec(), (meta, false));
        }
        let e = self.consumers.get_mut(c).expect("just inserted");
        e.1 = true;
        Ok(e.0.as_mut())
    }

    /// Looks consumer `c` up, creating it if needed, and refreshes its seen-time; returns
    /// true if it was created.
    fn touch_consumer(&mut self, txn: &Txn<'_>, c: &[u8], now: u64) -> Result<bool> {
        if let Some(cm) = self.consumer(txn, c)? {
            cm.seen_time = now;
            return Ok(false);
        }
        self.consumers.insert(c.to_vec(), (Some(ConsumerMeta { seen_time: now, pending: 0 }), true));
        self.meta.consumers += 1;
        Ok(true)
    }

    fn nack(&self, txn: &Txn<'_>, id: StreamId) -> Result<Option<Nack>> {
        match txn.get(&pel_key(self.key, self.version, self.name, id))? {
            Some(v) => Ok(Some(Nack::decode(&v).ok_or_else(|| bad_group(self.key))?)),
            None => Ok(None),
        }
    }

    fn adjust_pending(&mut self, txn: &Txn<'_>, c: &[u8], delta: i64) -> Result<()> {
        if let Some(cm) = self.consumer(txn, c)? {
            cm.pending = cm.pending.saturating_add_signed(delta);
        }
        Ok(())
    }

    /// Stores `nack` for `id`; `prev` is the entry it replaces (if it was pending).
    fn put_nack(&mut self, txn: &mut Txn<'_>, id: StreamId, nack: &Nack, prev: Option<&Nack>) -> Result<()> {
        match prev {
            Some(p) if p.consumer == nack.consumer => {}
            Some(p) => {
                txn.delete(&consumer_pel_key(self.key, self.version, self.name, &p.consumer, id))?;
                self.adjust_pending(txn, &p.consumer, -1)?;
                txn.put(&consumer_pel_key(self.key, self.version, self.name, &nack.consumer, id), &[])?;
                self.adjust_pending(txn, &nack.consumer, 1)?;
            }
            None => {
                self.meta.pending += 1;
                txn.put(&consumer_pel_key(self.key, self.version, self.name, &nack.consumer, id), &[])?;
                self.adjust_pending(txn, &nack.consumer, 1)?;
            }
        }
        txn.put(&pel_key(self.key, self.version, self.name, id), &nack.encode())
    }

    /// Removes pending entry `id` (owned as `nack` says).
    fn remove_nack(&mut self, txn: &mut Txn<'_>, id: StreamId, nack: &Nack) -> Result<()> {
        txn.delete(&pel_key(self.key, self.version, self.name, id))?;
        txn.delete(&consumer_pel_key(self.key, self.version, self.name, &nack.consumer, id))?;
        self.adjust_pending(txn, &nack.consumer, -1)?;
        self.meta.pending = self.meta.pending.saturating_sub(1);
        Ok(())
    }

    /// Writes the group record and the consumers it changed.
    fn flush(self, txn: &mut Txn<'_>) -> Result<()> {
        txn.put(&group_key(self.key, self.version, self.name), &self.meta.encode())?;
        for (c, (meta, dirty)) in &self.consumers {
            if let (Some(meta), true) = (meta, dirty) {
                txn.put(&consumer_key(self.key, self.version, self.name, c), &meta.encode())?;
            }
        }
        Ok(())
    }
}

fn bad_group(key: &[u8]) -> Error {
    Error::InvalidArgument(format!("stream {:?} has a malformed consumer-group record", String::from_utf8_lossy(key)))
}

/// Redis's `streamRangeHasTombstones`: may entries in `start..=MAX` have been deleted?
fn range_has_tombstones(m: &CollMeta, start: StreamId) -> bool {
    let s = &m.stream;
    if m.count == 0 || s.max_deleted_id == StreamId::MIN || s.first_id > s.max_deleted_id {
        return false;
    }
    start <= s.max_deleted_id
}

/// Redis's `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`, if
/// it can be known.
fn estimate_entries_read(m: &CollMeta, id: StreamId) -> Option<u64> {
    let s = &m.stream;
    if s.entries_added == 0 {
        return Some(0);
    }
    if m.count == 0 && id <= s.last_id {
        return Some(s.entries_added);
    }
    if id == s.last_id {
        return Some(s.entries_added);
    }
    if id > s.last_id {
        return None;
    }
    if s.max_deleted_id == StreamId::MIN || s.max_deleted_id < s.first_id {
        if id < s.first_id {
            return Some(s.entries_added - m.count);
        }
        if id == s.first_id {
            return Some(s.entries_added - m.count + 1);
        }
    }
    None
}

/// Redis's `streamReplyWithCGLag`.
fn group_lag(m: &CollMeta, g: &GroupMeta) -> Option<i64> {
    let added = m.stream.entries_added as i64;
    if added == 0 {
        return Some(0);
    }
    if let Some(read) = g.entries_read {
        if !range_has_tombstones(m, g.last_id) {
            return Some(added.wrapping_sub(read as i64));
        }
    }
    estimate_entries_read(m, g.last_id).map(|read| added.wrapping_sub(read as i64))
}

fn group_info(m: &CollMeta, name: Vec<u8>, g: &GroupMeta) -> StreamGroup {
    StreamGroup {
        name,
        consumers: g.consumers,
        pending: g.pending,
        last_id: g.last_id,
        entries_read: g.entries_read,
        lag: group_lag(m, g),
    }
}

fn prefix_range(prefix: &[u8]) -> KeyRange {
    KeyRange::prefix(prefix)
}

impl Collections {
    fn now(&self) -> u64 {
        (self.store.options().clock)()
    }

    /// Runs `f` on stream `key` and group `group` in one transaction, writing the group back
    /// when `f` succeeds.
    fn with_group<T>(
        &self,
        key: &[u8],
        group: &[u8],
        f: impl FnOnce(&Self, &mut Txn<'_>, &CollMeta, &mut GroupTx<'_>) -> Result<T>,
    ) -> Result<GroupOutcome<T>> {
        self.store.update(|txn| {
            let Some((m, _)) = tx_coll(&self.store, txn, key, KeyType::Stream)? else {
                return Ok(GroupOutcome::NoStream);
            };
            let Some(mut g) = GroupTx::load(txn, key, &m, group)? else { return Ok(GroupOutcome::NoGroup) };
            let r = f(self, txn, &m, &mut g)?;
            g.flush(txn)?;
            Ok(GroupOutcome::Done(r))
        })
    }

    fn tx_entry(&self, txn: &Txn<'_>, key: &[u8], m: &CollMeta, id: StreamId) -> Result<Option<Fields>> {
        match txn.get(&stream_key(key, m.version, id))? {
            Some(v) => Ok(Some(decode_fields(&v).ok_or_else(|| self.bad_entry(key))?)),
            None => Ok(None),
        }
    }

    /// Creates consumer group `group` on stream `key` (`XGROUP CREATE`), starting after `id`
    /// (`None`: the stream's last id, `$`), with the read counter `entries_read` (`None`:
    /// unknown). `mkstream` creates an empty stream if `key` does not exist.
    pub fn xgroup_create(
        &self,
        key: &[u8],
        group: &[u8],
        id: Option<StreamId>,
        entries_read: Option<u64>,
        mkstream: bool,
    ) -> Result<GroupCreate> {
        self.store.update(|txn| {
            let (m, expiry, created) = match tx_coll(&self.store, txn, key, KeyType::Stream)? {
                Some((m, e)) => (m, e, false),
                None if mkstream => {
                    (CollMeta::new(KeyType::Stream, tx_fresh_version(&self.store, txn, key)?), None, true)
                }
                None => return Ok(GroupCreate::NoStream),
            };
            let gk = group_key(key, m.version, group);
            if txn.exists(&gk)? {
                return Ok(GroupCreate::Exists);
            }
            let meta = GroupMeta { last_id: id.unwrap_or(m.stream.last_id), entries_read, pending: 0, consumers: 0 };
            txn.put(&gk, &meta.encode())?;
            if created {
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(GroupCreate::Created)
        })
    }

    /// Sets the last-delivered id (`None`: the stream's last id) and read counter of a group
    /// (`XGROUP SETID`).
    pub fn xgroup_setid(
        &self,
        key: &[u8],
        group: &[u8],
        id: Option<StreamId>,
        entries_read: Option<u64>,
    ) -> Result<GroupOutcome<()>> {
        self.with_group(key, group, |_, _, m, g| {
            g.meta.last_id = id.unwrap_or(m.stream.last_id);
            g.meta.entries_read = entries_read;
            Ok(())
        })
    }

    /// Deletes a group with its consumers and PEL (`XGROUP DESTROY`); returns whether it
    /// existed, `None` if the key does not exist. O(consumers + pending).
    pub fn xgroup_destroy(&self, key: &[u8], group: &[u8]) -> Result<Option<bool>> {
        self.store.update(|txn| {
            let Some((m, _)) = tx_coll(&self.store, txn, key, KeyType::Stream)? else { return Ok(None) };
            if !txn.delete(&group_key(key, m.version, group))? {
                return Ok(Some(false));
            }
            let mut tagged = vec![consumers_prefix(key, m.version, group), pel_prefix(key, m.version, group)];
            let mut q = consumers_prefix(key, m.version, group);
            q[space_prefix(GROUP_SPACE, key, m.version).len()] = TAG_CONSUMER_PEL;
            tagged.push(q);
            for prefix in tagged {
                let keys: Vec<Vec<u8>> = txn
                    .iter_range(prefix_range(&prefix), Direction::Forward)
                    .keys()
                    .map(|r| r.map(|(k, _)| k))
                    .collect::<Result<_>>()?;
                for k in keys {
                    txn.delete(&k)?;
                }
            }
            Ok(Some(true))
        })
    }

    /// Creates consumer `consumer` in a group (`XGROUP CREATECONSUMER`); returns whether it
    /// was created.
    pub fn xgroup_create_consumer(&self, key: &[u8], group: &[u8], consumer: &[u8]) -> Result<GroupOutcome<bool>> {
        let now = self.now();
        self.with_group(key, group, |_, txn, _, g| {
            if g.consumer(txn, consumer)?.is_some() {
                g.consumers.get_mut(consumer).expect("loaded").1 = false;
                return Ok(false);
            }
            g.touch_consumer(txn, consumer, now)
        })
    }

    /// Deletes a consumer and its pending entries (`XGROUP DELCONSUMER`); returns how many
    /// entries it had pending. O(its pending entries).
    pub fn xgroup_del_consumer(&self, key: &[u8], group: &[u8], consumer: &[u8]) -> Result<GroupOutcome<u64>> {
        self.with_group(key, group, |_, txn, _, g| {
            let Some(cm) = g.consumer(txn, consumer)?.copied() else {
                g.consumers.get_mut(consumer).expect("loaded").1 = false;
                return Ok(0);
            };
            g.consumers.remove(consumer);
            let prefix = consumer_pel_prefix(g.key, g.version, g.name, consumer);
            let keys: Vec<Vec<u8>> = txn
                .iter_range(prefix_range(&prefix), Direction::Forward)
                .keys()
                .map(|r| r.map(|(k, _)| k))
                .collect::<Result<_>>()?;
            for k in &keys {
                let id = StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| bad_group(g.key))?;
                txn.delete(k)?;
                if txn.delete(&pel_key(g.key, g.version, g.name, id))? {
                    g.meta.pending = g.meta.pending.saturating_sub(1);
                }
            }
            txn.delete(&consumer_key(g.key, g.version, g.name, consumer))?;
            g.meta.consumers = g.meta.consumers.saturating_sub(1);
            Ok(cm.pending.max(keys.len() as u64))
        })
    }

    /// Delivers entries to `consumer` of `group` (`XREADGROUP`), at most `count` (`None`: all).
    ///
    /// [`GroupRead::New`] delivers entries after the group's last-delivered id, advancing it
    /// and its read counter, and (unless `noack`) adds them to the PEL as owned by `consumer`
    /// (an entry pending for another consumer is reassigned). The consumer is created (or its
    /// seen-time refreshed) only when something is delivered. [`GroupRead::History`]
    /// re-delivers the consumer's own pending entries with ids above the given one, bumping
    /// their delivery count (deleted entries come back without fields). Everything, PEL
    /// included, changes in the one transaction.
    pub fn xreadgroup(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        read: GroupRead,
        count: Option<usize>,
        noack: bool,
    ) -> Result<GroupOutcome<Vec<GroupEntry>>> {
        let now = self.now();
        let limit = count.filter(|&c| c > 0).unwrap_or(usize::MAX);
        self.with_group(key, group, |this, txn, m, g| {
            let mut out = Vec::new();
            match read {
                GroupRead::New => {
                    let prefix = space_prefix(ELEM_SPACE, key, m.version);
                    let range = KeyRange {
                        start: Bound::Excluded(stream_key(key, m.version, g.meta.last_id)),
                        end: prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
                    };
                    let mut entries = Vec::new();
                    for r in txn.iter_range(range, Direction::Forward).take(limit) {
                        let (k, v) = r?;
                        let id = StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| this.bad_entry(key))?;
                        let fields = decode_fields(&v).ok_or_else(|| this.bad_entry(key))?;
                        entries.push(StreamEntry { id, fields });
                    }
                    if entries.is_empty() {
                        return Ok(out);
                    }
                    g.touch_consumer(txn, consumer, now)?;
                    for e in entries {
                        if g.meta.entries_read.is_some() && !range_has_tombstones(m, e.id) {
                            g.meta.entries_read = g.meta.entries_read.map(|n| n + 1);
                        } else if m.stream.entries_added > 0 {
                            g.meta.entries_read = estimate_entries_read(m, e.id);
                        }
                        g.meta.last_id = e.id;
                        if !noack {
                            let prev = g.nack(txn, e.id)?;
                            let nack = Nack { delivery_time: now, delivery_count: 1, consumer: consumer.to_vec() };
                            g.put_nack(txn, e.id, &nack, prev.as_ref())?;
                        }
                        out.push(GroupEntry { id: e.id, fields: Some(e.fields) });
                    }
                }
                GroupRead::History(after) => {
                    g.touch_consumer(txn, consumer, now)?;
                    let Some(start) = after.successor() else { return Ok(out) };
                    let prefix = consumer_pel_prefix(key, m.version, group, consumer);
                    let mut from = prefix.clone();
                    from.extend_from_slice(&start.to_bytes());
                    let range = KeyRange {
                        start: Bound::Included(from),
                        end: prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
                    };
                    let ids: Vec<StreamId> = txn
                        .iter_range(range, Direction::Forward)
                        .keys()
                        .take(limit)
                        .map(|r| {
                            let k = r?.0;
                            StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| bad_group(key))
                        })
                        .collect::<Result<_>>()?;
                    for id in ids {
                        let fields = this.tx_entry(txn, key, m, id)?;
                        if fields.is_some() {
                            if let Some(mut nack) = g.nack(txn, id)? {
                                nack.delivery_time = now;
                                nack.delivery_count += 1;
                                let prev = nack.clone();
                                g.put_nack(txn, id, &nack, Some(&prev))?;
                            }
                        }
                        out.push(GroupEntry { id, fields });
                    }
                }
            }
            Ok(out)
        })
    }

    /// Acknowledges entries (`XACK`): removes them from the group's PEL and their consumer's;
    /// returns how many were pending (0 if the key or group does not exist). O(log n) per id.
    pub fn xack(&self, key: &[u8], group: &[u8], ids: &[StreamId]) -> Result<u64> {
        let r = self.with_group(key, group, |_, txn, _, g| {
            let mut n = 0;
            for &id in ids {
                if let Some(nack) = g.nack(txn, id)? {
                    g.remove_nack(txn, id, &nack)?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
        Ok(r.done().unwrap_or(0))
    }

    /// The summary form of `XPENDING`. O(consumers + log n).
    pub fn xpending_summary(&self, key: &[u8], group: &[u8]) -> Result<GroupOutcome<PendingSummary>> {
        self.with_group(key, group, |_, txn, _, g| {
            let prefix = pel_prefix(key, g.version, group);
            let edge = |dir| -> Result<Option<StreamId>> {
                match txn.iter_range(prefix_range(&prefix), dir).next_key()? {
                    Some((k, _)) => Ok(Some(StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| bad_group(key))?)),
                    None => Ok(None),
                }
            };
            let range = match (edge(Direction::Forward)?, edge(Direction::Reverse)?) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            };
            let mut consumers = Vec::new();
            if range.is_some() {
                let cp = consumers_prefix(key, g.version, group);
                for r in txn.iter_range(prefix_range(&cp), Direction::Forward) {
                    let (k, v) = r?;
                    let cm = ConsumerMeta::decode(&v).ok_or_else(|| bad_group(key))?;
                    if cm.pending > 0 {
                        consumers.push((k[cp.len()..].to_vec(), cm.pending));
                    }
                }
            }
            Ok(PendingSummary { count: g.meta.pending, range, consumers })
        })
    }

    /// The extended form of `XPENDING`: pending entries with ids in `min..=max`, at most
    /// `count`, only those idle for at least `min_idle` ms, only `consumer`'s if given (an
    /// unknown consumer has none). An ordered scan of the group's PEL, or of the consumer's
    /// index.
    #[allow(clippy::too_many_arguments)]
    pub fn xpending_range(
        &self,
        key: &[u8],
        group: &[u8],
        min: StreamId,
        max: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
        min_idle: u64,
    ) -> Result<GroupOutcome<Vec<PendingEntry>>> {
        let now = self.now();
        self.with_group(key, group, |_, txn, _, g| {
            let mut out = Vec::new();
            if count == 0 || min > max {
                return Ok(out);
            }
            let prefix = match consumer {
                Some(c) => consumer_pel_prefix(key, g.version, group, c),
                None => pel_prefix(key, g.version, group),
            };
            let at = |id: StreamId| {
                let mut k = prefix.clone();
                k.extend_from_slice(&id.to_bytes());
                k
            };
            let range = KeyRange { start: Bound::Included(at(min)), end: Bound::Included(at(max)) };
            for r in txn.iter_range(range, Direction::Forward).keys() {
                let k = r?.0;
                let id = StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| bad_group(key))?;
                let Some(nack) = g.nack(txn, id)? else { continue };
                if min_idle > 0 && (now as i128 - nack.delivery_time as i128) < min_idle as i128 {
                    continue;
                }
                out.push(PendingEntry {
                    id,
                    consumer: nack.consumer,
                    delivery_time: nack.delivery_time,
                    delivery_count: nack.delivery_count,
                });
                if out.len() >= count {
                    break;
                }
            }
            Ok(out)
        })
    }

    /// Changes the owner of pending entries to `consumer` (`XCLAIM`), for those idle at least
    /// `min_idle` ms. Ids whose entries were deleted are dropped from the PEL and skipped;
    /// with `force`, existing entries that are not pending are added. Creates the consumer on
    /// the first claim. Returns the claimed entries (fields empty with `just_id`).
    pub fn xclaim(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle: u64,
        ids: &[StreamId],
        opts: ClaimOptions,
    ) -> Result<GroupOutcome<Vec<StreamEntry>>> {
        let now = self.now();
        self.with_group(key, group, |this, txn, m, g| {
            if let Some(last) = opts.last_id {
                if last > g.meta.last_id {
                    g.meta.last_id = last;
                }
            }
            let time = match opts.delivery_time {
                Some(t) if t >= 0 && (t as u64) <= now => t as u64,
                _ => now,
            };
            let mut out = Vec::new();
            let mut touched = false;
            for &id in ids {
                let prev = g.nack(txn, id)?;
                let Some(fields) = this.tx_entry(txn, key, m, id)? else {
                    if let Some(p) = prev {
                        g.remove_nack(txn, id, &p)?;
                    }
                    continue;
                };
                let mut nack = match (&prev, opts.force) {
                    (Some(p), _) => {
                        if min_idle > 0 && (now as i128 - p.delivery_time as i128) < min_idle as i128 {
                            continue;
                        }
                        p.clone()
                    }
                    (None, true) => Nack { delivery_time: now, delivery_count: 1, consumer: Vec::new() },
                    (None, false) => continue,
                };
                if !touched {
                    g.touch_consumer(txn, consumer, now)?;
                    touched = true;
                }
                nack.consumer = consumer.to_vec();
                nack.delivery_time = time;
                if let Some(n) = opts.retry_count {
                    nack.delivery_count = n;
                } else if !opts.just_id {
                    nack.delivery_count += 1;
                }
                g.put_nack(txn, id, &nack, prev.as_ref())?;
                out.push(StreamEntry { id, fields: if opts.just_id { Vec::new() } else { fields } });
            }
            Ok(out)
        })
    }

    /// Claims up to `count` pending entries idle at least `min_idle` ms, scanning the PEL from
    /// `start` (`XAUTOCLAIM`, Redis 7 semantics: examines at most `10 · count` entries; pending
    /// ids whose entries were deleted are removed and reported, and count towards `count`).
    #[allow(clippy::too_many_arguments)]
    pub fn xautoclaim(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle: u64,
        start: StreamId,
        count: usize,
        just_id: bool,
    ) -> Result<GroupOutcome<AutoClaim>> {
        let now = self.now();
        self.with_group(key, group, |this, txn, m, g| {
            let prefix = pel_prefix(key, g.version, group);
            let mut from = prefix.clone();
            from.extend_from_slice(&start.to_bytes());
            let range = KeyRange {
                start: Bound::Included(from),
                end: prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
            };
            let mut attempts = count.saturating_mul(10);
            let mut left = count;
            // Examine at most `attempts` PEL entries, plus one more for the next cursor.
            let mut pel = Vec::new();
            for r in txn.iter_range(range, Direction::Forward) {
                let (k, v) = r?;
                let id = StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| bad_group(key))?;
                pel.push((id, Nack::decode(&v).ok_or_else(|| bad_group(key))?));
                if pel.len() > attempts {
                    break;
                }
            }
            let mut res = AutoClaim { next: StreamId::MIN, claimed: Vec::new(), deleted: Vec::new() };
            let mut it = pel.into_iter();
            let mut touched = false;
            while attempts > 0 && left > 0 {
                attempts -= 1;
                let Some((id, prev)) = it.next() else { break };
                let Some(fields) = this.tx_entry(txn, key, m, id)? else {
                    g.remove_nack(txn, id, &prev)?;
                    res.deleted.push(id);
                    left -= 1;
                    continue;
                };
                if min_idle > 0 && (now as i128 - prev.delivery_time as i128) < min_idle as i128 {
                    continue;
                }
                if !touched {
                    g.touch_consumer(txn, consumer, now)?;
                    touched = true;
                }
                let mut nack = prev.clone();
                nack.consumer = consumer.to_vec();
                nack.delivery_time = now;
                if !just_id {
                    nack.delivery_count += 1;
                }
                g.put_nack(txn, id, &nack, Some(&prev))?;
                res.claimed.push(StreamEntry { id, fields: if just_id { Vec::new() } else { fields } });
                left -= 1;
            }
            if let Some((id, _)) = it.next() {
                res.next = id;
            }
            Ok(res)
        })
    }

    /// The groups of stream `key` in name order (`XINFO GROUPS`), `None` if it does not exist.
    pub fn xinfo_groups(&self, key: &[u8]) -> Result<Option<Vec<StreamGroup>>> {
        self.store.update(|txn| {
            let Some((m, _)) = tx_coll(&self.store, txn, key, KeyType::Stream)? else { return Ok(None) };
            let prefix = groups_prefix(key, m.version);
            let mut out = Vec::new();
            for r in txn.iter_range(prefix_range(&prefix), Direction::Forward) {
                let (k, v) = r?;
                let g = GroupMeta::decode(&v).ok_or_else(|| bad_group(key))?;
                out.push(group_info(&m, k[prefix.len()..].to_vec(), &g));
            }
            Ok(Some(out))
        })
    }

    /// One group of stream `key` (O(log n)).
    pub fn stream_group(&self, key: &[u8], group: &[u8]) -> Result<GroupOutcome<StreamGroup>> {
        let Some(m) = self.load_coll(key, KeyType::Stream)? else { return Ok(GroupOutcome::NoStream) };
        match self.store.get(&group_key(key, m.version, group))? {
            None => Ok(GroupOutcome::NoGroup),
            Some(v) => {
                let g = GroupMeta::decode(&v).ok_or_else(|| bad_group(key))?;
                Ok(GroupOutcome::Done(group_info(&m, group.to_vec(), &g)))
            }
        }
    }

    /// The consumers of a group in name order (`XINFO CONSUMERS`).
    pub fn xinfo_consumers(&self, key: &[u8], group: &[u8]) -> Result<GroupOutcome<Vec<StreamConsumer>>> {
        self.with_group(key, group, |_, txn, _, g| {
            let prefix = consumers_prefix(key, g.version, group);
            let mut out = Vec::new();
            for r in txn.iter_range(prefix_range(&prefix), Direction::Forward) {
                let (k, v) = r?;
                let cm = ConsumerMeta::decode(&v).ok_or_else(|| bad_group(key))?;
                out.push(StreamConsumer {
                    name: k[prefix.len()..].to_vec(),
                    seen_time: cm.seen_time,
                    pending: cm.pending,
                });
            }
            Ok(out)
        })
    }

    /// Every group with its first `count` pending entries (0: all) and its consumers with
    /// theirs (`XINFO STREAM FULL`); `None` if the key does not exist.
    pub fn xinfo_groups_full(&self, key: &[u8], count: usize) -> Result<Option<Vec<GroupDetail>>> {
        let limit = if count == 0 { usize::MAX } else { count };
        let groups = match self.xinfo_groups(key)? {
            Some(g) => g,
            None => return Ok(None),
        };
        self.store.update(|txn| {
            let Some((m, _)) = tx_coll(&self.store, txn, key, KeyType::Stream)? else { return Ok(None) };
            let mut out = Vec::new();
            for group in groups {
                let Some(g) = GroupTx::load(txn, key, &m, &group.name)? else { continue };
                let pp = pel_prefix(key, m.version, &group.name);
                let mut pending = Vec::new();
                for r in txn.iter_range(prefix_range(&pp), Direction::Forward).take(limit) {
                    let (k, v) = r?;
                    let id = StreamId::from_bytes(&k[pp.len()..]).ok_or_else(|| bad_group(key))?;
                    let n = Nack::decode(&v).ok_or_else(|| bad_group(key))?;
                    pending.push(PendingEntry {
                        id,
                        consumer: n.consumer,
                        delivery_time: n.delivery_time,
                        delivery_count: n.delivery_count,
                    });
                }
                let cp = consumers_prefix(key, m.version, &group.name);
                let mut consumers = Vec::new();
                for r in txn.iter_range(prefix_range(&cp), Direction::Forward) {
                    let (k, v) = r?;
                    let cm = ConsumerMeta::decode(&v).ok_or_else(|| bad_group(key))?;
                    let name = k[cp.len()..].to_vec();
                    let qp = consumer_pel_prefix(key, m.version, &group.name, &name);
                    let mut mine = Vec::new();
                    for r in txn.iter_range(prefix_range(&qp), Direction::Forward).keys().take(limit) {
                        let k = r?.0;
                        let id = StreamId::from_bytes(&k[qp.len()..]).ok_or_else(|| bad_group(key))?;
                        if let Some(n) = g.nack(txn, id)? {
                            mine.push(PendingEntry {
                                id,
                                consumer: name.clone(),
                                delivery_time: n.delivery_time,
                                delivery_count: n.delivery_count,
                            });
                        }
                    }
                    consumers.push((StreamConsumer { name, seen_time: cm.seen_time, pending: cm.pending }, mine));
                }
                out.push(GroupDetail { group, pending, consumers });
            }
            Ok(Some(out))
        })
    }

    /// Sets a stream's last id, and optionally its entries-added counter and greatest deleted
    /// id (`XSETID`), with Redis's checks and messages. `Ok(false)` if the key does not exist.
    pub fn xsetid(
        &self,
        key: &[u8],
        id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) -> Result<bool> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::Stream)? else { return Ok(false) };
            if m.count > 0 {
                let top = self.last_entry(txn, key, &m)?.unwrap_or(m.stream.last_id);
                if id < top {
                    return Err(err("The ID specified in XSETID is smaller than the target stream top item"));
                }
                if entries_added.is_some_and(|n| n < m.count) {
                    return Err(err("The entries_added specified in XSETID is smaller than the target stream length"));
                }
            }
            m.stream.last_id = id;
            if let Some(n) = entries_added {
                m.stream.entries_added = n;
            }
            if let Some(d) = max_deleted.filter(|d| *d != StreamId::MIN) {
                m.stream.max_deleted_id = d;
            }
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(true)
        })
    }

    /// The id of the last live entry of stream `m` in `txn`.
    fn last_entry(&self, txn: &Txn<'_>, key: &[u8], m: &CollMeta) -> Result<Option<StreamId>> {
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        match txn.iter_range(prefix_range(&prefix), Direction::Reverse).next_key()? {
            None => Ok(None),
            Some((k, _)) => Ok(Some(StreamId::from_bytes(&k[prefix.len()..]).ok_or_else(|| self.bad_entry(key))?)),
        }
    }
}
