//! Streams: each entry is an element key `E…version ++ ms u64-BE ++ seq u64-BE` whose value
//! holds the entry's field/value pairs; the metadata record holds the length, the last id
//! (new ids must be greater), the first id, the number of entries ever added and the
//! greatest deleted id. Append, delete and range by id are O(log n) (+ k for ranges);
//! trimming is O(removed · log n).
//!
//! As in Redis, a stream is not deleted when its last entry is deleted or trimmed: it keeps
//! its last id, so ids stay strictly increasing.

use std::fmt;
use std::ops::Bound;

use crate::collections::keys::{space_prefix, stream_key, CollMeta, KeyType, ELEM_SPACE};
use crate::collections::{non_empty, tx_coll, tx_store_meta, Collections};
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
}

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
                None => (CollMeta::new(KeyType::Stream, txn.version()), None),
            };
            let last = m.stream.last_id;
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
