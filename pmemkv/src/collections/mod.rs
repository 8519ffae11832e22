//! Typed collections: Redis data types (strings, hashes, lists, sets, sorted sets, streams)
//! on the ordered store, with the Kvrocks-style key encoding described in [`keys`].
//!
//! Every user key has one metadata record holding its type (and, for strings, the value
//! itself); each element of a collection is its own store key, so an update touches a
//! constant number of keys (O(log n) index work each) and ranges are ordered scans — nothing
//! rewrites a whole collection. Deleting, overwriting or expiring a collection changes only
//! its metadata record (O(1)); the old elements become orphans that
//! [`Collections::purge_orphans`] reclaims incrementally.
//!
//! Consistency: every mutating operation runs in one [`Store::update`] transaction, so the
//! metadata (counts, list ends, stream ids) and the elements change atomically, also across a
//! crash, and writers are serialized. Reads use the store directly without locks; a read that
//! looks at the metadata and then at elements may observe a concurrent writer's effect
//! between the two (each individual lookup is consistent).
//!
//! The layer owns the store keys starting with `M`, `E`, `G` and `Z`; other users of the same
//! store must keep out of those spaces. Element keys are 13 bytes longer than user key +
//! field/member, and must fit [`crate::MAX_KEY_LEN`] (else `KeyTooLarge`).
//!
//! Module map: [`keys`] (encoding of keys and metadata), `strings`, `hash`, `list`, `set`,
//! `zset`, `stream` (one `impl Collections` block per type), `sample` (random elements
//! without a full read), [`stream::StreamId`] and the
//! other argument types are re-exported here.

pub mod hash;
pub mod keyops;
pub mod keys;
pub mod list;
pub mod member_sample;
mod sample;

pub use sample::Rng;
pub mod set;
pub mod stream;
pub mod strings;
pub mod zset;

use std::ops::Bound;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::iter::{prefix_successor, Direction, KeyRange};
use crate::store::{Store, Txn};
use crate::value::ValueRef;

pub use keyops::ExpireDecision;
pub use keys::{CollMeta, KeyType, Meta, StreamMeta, StringForm};
pub use list::{InsertWhere, ListEnd, LposOptions, LRANGE_BATCH};
pub use set::SetOp;
pub use stream::{
    AutoClaim, ClaimOptions, Fields, GroupCreate, GroupDetail, GroupEntry, GroupOutcome, GroupRead, PendingEntry,
    PendingSummary, StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamInfo, StreamTrim, TrimStrategy, XAddId,
    XAddOptions,
};
pub use strings::{SetOptions, SetOutcome};
pub use zset::{Aggregate, LexBound, ScoreBound, ZAddOptions, ZCompare, ZCondition, ZRangeBy, ZStoreOp};

use keys::{decode_meta, decode_sub_key, meta_key, space_prefix, ELEM_SPACE, GROUP_SPACE, ZINDEX_SPACE};

/// The time to live of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTtl {
    /// The key does not exist.
    Missing,
    /// The key exists and has no expiry.
    Persistent,
    /// The key expires at this absolute time (ms since the Unix epoch).
    ExpiresAt(u64),
}

/// A resumable page of a scan (`SCAN`, `HSCAN`, `SSCAN`).
///
/// Cursors are opaque byte strings: start with an empty cursor and pass back
/// [`ScanResult::cursor`] until it is `None`. An item present for the whole scan is returned
/// exactly once.
#[derive(Debug, Clone)]
pub struct ScanResult<T> {
    /// Items of this page, in key order.
    pub items: Vec<T>,
    /// Cursor of the next page; `None` when the scan is complete.
    pub cursor: Option<Vec<u8>>,
}

/// Typed collections on a [`Store`] (see the module documentation).
///
/// Cheap to share: wrap it in an `Arc` or create several handles on the same store (they only
/// differ in the position of their [`Collections::purge_orphans`] walk).
pub struct Collections {
    store: Arc<Store>,
    /// Where the incremental orphan purge continues (`None`: at the start).
    purge_cursor: Mutex<Option<Bound<Vec<u8>>>>,
}

/// Tag byte of non-empty scan cursors (so that the empty member/field/key, which is a valid
/// one, can be a cursor position too).
const CURSOR_TAG: u8 = b'c';

impl Collections {
    /// A collection layer on `store`.
    pub fn new(store: Arc<Store>) -> Collections {
        Collections { store, purge_cursor: Mutex::new(None) }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    // ---- key level -----------------------------------------------------------------------

    /// The type of `key`, or `None` if it does not exist (or expired).
    pub fn key_type(&self, key: &[u8]) -> Result<Option<KeyType>> {
        Ok(self.load(key)?.map(|(m, _)| m.kind()))
    }

    /// True if `key` exists (any type).
    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        self.store.exists(&meta_key(key))
    }

    /// Deletes `key` whatever its type, in O(1): only the metadata record is deleted; the
    /// elements of a collection become orphans (see [`Collections::purge_orphans`]). Returns
    /// true if the key existed.
    pub fn delete_key(&self, key: &[u8]) -> Result<bool> {
        self.store.delete(&meta_key(key))
    }

    /// Sets (`Some(ms since the Unix epoch)`) or clears (`None`) the expiry of `key`, whatever
    /// its type. A time in the past makes the key vanish at once. Returns false if the key
    /// does not exist.
    pub fn expire(&self, key: &[u8], expire_at_ms: Option<u64>) -> Result<bool> {
        self.store.expire(&meta_key(key), expire_at_ms)
    }

    /// The time to live of `key`.
    pub fn ttl(&self, key: &[u8]) -> Result<KeyTtl> {
        Ok(match self.store.meta(&meta_key(key))? {
            None => KeyTtl::Missing,
            Some(m) => m.expire_at_ms.map_or(KeyTtl::Persistent, KeyTtl::ExpiresAt),
        })
    }

    /// One page of up to `count` user keys in key order (`SCAN`); see [`ScanResult`].
    pub fn scan_keys(&self, cursor: &[u8], count: usize) -> Result<ScanResult<Vec<u8>>> {
        self.scan_keys_in(&[], cursor, count)
    }

    /// Like [`Collections::scan_keys`], restricted to user keys starting with `key_prefix`
    /// (a logical database, a namespace). Items are whole user keys, prefix included.
    pub fn scan_keys_in(&self, key_prefix: &[u8], cursor: &[u8], count: usize) -> Result<ScanResult<Vec<u8>>> {
        let prefix = meta_key(key_prefix);
        let mut it = self.store.iter_range(scan_range(&prefix, cursor)?, Direction::Forward).keys();
        let mut items = Vec::new();
        for r in it.by_ref() {
            items.push(r?.0[1..].to_vec());
            if items.len() >= count.max(1) {
                break;
            }
        }
        Ok(page(items, count, |k| &k[key_prefix.len()..]))
    }

    /// The live user keys starting with `key_prefix`, in key order, from the first one at or
    /// after `start` (a whole user key; `None`: from the beginning). Each item is the user key
    /// and its expiry (ms since the Unix epoch). Lazy: the walk reads the index as it goes.
    pub fn keys_in(
        &self,
        key_prefix: &[u8],
        start: Option<&[u8]>,
    ) -> impl Iterator<Item = Result<(Vec<u8>, Option<u64>)>> {
        let mut range = KeyRange::prefix(&meta_key(key_prefix));
        if let Some(s) = start.filter(|s| s.starts_with(key_prefix)) {
            range.start = Bound::Included(meta_key(s));
        }
        self.store
            .iter_range(range, Direction::Forward)
            .keys()
            .map(|r| r.map(|(k, m)| (k[1..].to_vec(), m.expire_at_ms)))
    }

    /// Counts the user keys starting with `key_prefix`, and how many of them have an expiry
    /// (`DBSIZE`, `INFO keyspace`). For a prefix of at most one byte (a logical database) this
    /// is the store's maintained count, O(1) in the number of keys; like Redis's, it includes
    /// expired keys not yet reclaimed. A longer prefix walks the keys' index entries (O(keys),
    /// live keys only).
    pub fn count_keys_in(&self, key_prefix: &[u8]) -> Result<(u64, u64)> {
        if let Some(c) = self.store.key_count(&meta_key(key_prefix)) {
            return Ok(c);
        }
        let (mut n, mut expiring) = (0, 0);
        for r in self.keys_in(key_prefix, None) {
            let (_, exp) = r?;
            n += 1;
            expiring += exp.is_some() as u64;
        }
        Ok((n, expiring))
    }

    // ---- orphan purge --------------------------------------------------------------------

    /// Deletes orphaned element keys (elements of collections that were deleted, overwritten
    /// or expired), examining at most about `budget` keys in one short write transaction.
    /// Each call continues where the previous one on this handle stopped and wraps around to
    /// the start after the end of the element spaces. Live collections are skipped with one
    /// seek each, so a pass costs O(collections · log n + orphans). Returns the number of
    /// keys deleted.
    pub fn purge_orphans(&self, budget: usize) -> Result<usize> {
        let mut cursor = self.purge_cursor.lock();
        let start = cursor.take().unwrap_or_else(|| Bound::Included(vec![ELEM_SPACE]));
        let (deleted, next) = self.purge_step(start, budget.max(1))?;
        *cursor = next;
        Ok(deleted)
    }

    /// Runs one complete orphan-purge pass from the start, in transactions of about `chunk`
    /// examined keys each. Returns the number of keys deleted.
    pub fn purge_all_orphans(&self, chunk: usize) -> Result<usize> {
        let mut start = Bound::Included(vec![ELEM_SPACE]);
        let mut total = 0;
        loop {
            let (deleted, next) = self.purge_step(start, chunk.max(1))?;
            total += deleted;
            match next {
                Some(n) => start = n,
                None => return Ok(total),
            }
        }
    }

    /// One purge step walking from `start`. Returns the deleted count and where to continue
    /// (`None` when the walk reached the end of the element spaces).
    ///
    /// The walk runs without the write lock, on a snapshot, and counts every index entry it
    /// passes (tombstones too: a million popped list elements are a million entries to step
    /// over), so a step's cost is bounded by `budget` whatever the keyspace holds. Only the
    /// deletes take the lock, in one short transaction that checks each candidate again: an
    /// element key names its collection's version, and a collection never gets an old
    /// version back, so an orphan found on the snapshot is still one unless its collection
    /// meanwhile reappeared with exactly that version (checked).
    fn purge_step(&self, mut start: Bound<Vec<u8>>, budget: usize) -> Result<(usize, Option<Bound<Vec<u8>>>)> {
        let mut candidates: Vec<Vec<u8>> = Vec::new();
        let mut work = 0;
        // The live collection metadata of the last user key looked at.
        let mut cached: Option<(Vec<u8>, Option<CollMeta>)> = None;
        let next = 'walk: loop {
            // Walk the E space, the G space, then the Z space, skipping the M space.
            let first = match &start {
                Bound::Included(k) | Bound::Excluded(k) => k.first().copied().unwrap_or(0),
                Bound::Unbounded => 0,
            };
            let space = if first <= ELEM_SPACE {
                ELEM_SPACE
            } else if first <= GROUP_SPACE {
                GROUP_SPACE
            } else if first <= ZINDEX_SPACE {
                ZINDEX_SPACE
            } else {
                break 'walk None;
            };
            if first != space {
                start = Bound::Included(vec![space]);
            }
            let range = KeyRange { start: start.clone(), end: Bound::Excluded(vec![space + 1]) };
            let mut it = self.store.iter_range(range, Direction::Forward);
            loop {
                if work >= budget {
                    break 'walk Some(start);
                }
                work += 1;
                let Some((k, live_key)) = it.next_raw_key()? else {
                    if space != ZINDEX_SPACE {
                        start = Bound::Included(vec![if space == ELEM_SPACE { GROUP_SPACE } else { ZINDEX_SPACE }]);
                        continue 'walk;
                    }
                    break 'walk None;
                };
                if !live_key {
                    // A tombstone or an expired entry: nothing to delete, but it was work.
                    start = Bound::Excluded(k);
                    continue;
                }
                let Some(sk) = decode_sub_key(&k) else {
                    // Not ours (a foreign key in our space): leave it alone.
                    start = Bound::Excluded(k);
                    continue;
                };
                let live = match &cached {
                    Some((uk, m)) if uk.as_slice() == sk.user_key => *m,
                    _ => {
                        let m = self.store.get(&meta_key(sk.user_key))?.and_then(|v| match decode_meta(&v) {
                            Some(Meta::Coll(c)) => Some(c),
                            _ => None,
                        });
                        cached = Some((sk.user_key.to_vec(), m));
                        m
                    }
                };
                if live.is_some_and(|m| belongs_to(&m, space, sk.version)) {
                    // Skip the rest of this live collection with one seek.
                    match prefix_successor(&space_prefix(space, sk.user_key, sk.version)) {
                        Some(next) => {
                            start = Bound::Included(next);
                            continue 'walk;
                        }
                        None => break 'walk None,
                    }
                }
                start = Bound::Excluded(k.clone());
                candidates.push(k);
            }
        };
        if candidates.is_empty() {
            return Ok((0, next));
        }
        let deleted = self.store.update(|txn| {
            let mut deleted = 0;
            let mut cached: Option<(Vec<u8>, Option<CollMeta>)> = None;
            for k in &candidates {
                let Some(sk) = decode_sub_key(k) else { continue };
                let live = match &cached {
                    Some((uk, m)) if uk.as_slice() == sk.user_key => *m,
                    _ => {
                        let m = txn.get(&meta_key(sk.user_key))?.and_then(|v| match decode_meta(&v) {
                            Some(Meta::Coll(c)) => Some(c),
                            _ => None,
                        });
                        cached = Some((sk.user_key.to_vec(), m));
                        m
                    }
                };
                if !live.is_some_and(|m| belongs_to(&m, sk.space, sk.version)) {
                    txn.delete(k)?;
                    deleted += 1;
                }
            }
            Ok(deleted)
        })?;
        Ok((deleted, next))
    }

    // ---- shared helpers ------------------------------------------------------------------

    /// The metadata of `key` and its raw record, read from the store without locking.
    pub(crate) fn load(&self, key: &[u8]) -> Result<Option<(Meta, ValueRef)>> {
        match self.store.get(&meta_key(key))? {
            None => Ok(None),
            Some(v) => Ok(Some((self.decode(key, &v)?, v))),
        }
    }

    /// The metadata of collection `key` of type `kind`: `None` if absent, `WrongType` if it
    /// holds another type.
    pub(crate) fn load_coll(&self, key: &[u8], kind: KeyType) -> Result<Option<CollMeta>> {
        match self.load(key)? {
            None => Ok(None),
            Some((Meta::Coll(c), _)) if c.kind == kind => Ok(Some(c)),
            Some(_) => Err(Error::WrongType),
        }
    }

    fn decode(&self, key: &[u8], v: &[u8]) -> Result<Meta> {
        decode_meta(v).ok_or_else(|| malformed(&self.store, key))
    }
}

/// The error for a metadata record that does not decode.
pub(crate) fn malformed(store: &Store, key: &[u8]) -> Error {
    Error::corruption(
        store.path(),
        0,
        format!("malformed collection metadata record for key {:?}", String::from_utf8_lossy(key)),
    )
}

/// Metadata of `key` inside a transaction, with the record's expiry.
pub(crate) struct TxMeta {
    /// The decoded record, `None` if the key does not exist.
    pub meta: Option<Meta>,
    /// The raw record (strings read their bytes from it).
    pub raw: Option<ValueRef>,
    /// The record's expiry.
    pub expiry: Option<u64>,
}

/// Loads the metadata of `key` in `txn`.
pub(crate) fn tx_load(store: &Store, txn: &Txn<'_>, key: &[u8]) -> Result<TxMeta> {
    let mk = meta_key(key);
    let Some((raw, stored)) = txn.get_with_meta(&mk)? else {
        return Ok(TxMeta { meta: None, raw: None, expiry: None });
    };
    let meta = decode_meta(&raw).ok_or_else(|| malformed(store, key))?;
    let expiry = stored.expire_at_ms;
    Ok(TxMeta { meta: Some(meta), raw: Some(raw), expiry })
}

/// Loads collection `key` of type `kind` in `txn`: `None` if absent, `WrongType` if it holds
/// another type. Returns the metadata and the record's expiry.
pub(crate) fn tx_coll(
    store: &Store,
    txn: &Txn<'_>,
    key: &[u8],
    kind: KeyType,
) -> Result<Option<(CollMeta, Option<u64>)>> {
    let m = tx_load(store, txn, key)?;
    match m.meta {
        None => Ok(None),
        Some(Meta::Coll(c)) if c.kind == kind => Ok(Some((c, m.expiry))),
        Some(_) => Err(Error::WrongType),
    }
}

/// Like [`tx_coll`], but starts a new, empty collection (version from
/// [`tx_fresh_version`], no expiry) if `key` does not exist.
pub(crate) fn tx_coll_or_new(
    store: &Store,
    txn: &Txn<'_>,
    key: &[u8],
    kind: KeyType,
) -> Result<(CollMeta, Option<u64>)> {
    match tx_coll(store, txn, key, kind)? {
        Some(x) => Ok(x),
        None => Ok((CollMeta::new(kind, tx_fresh_version(store, txn, key)?), None)),
    }
}

/// A version for a new collection under `key` whose element spaces hold nothing yet.
///
/// Normally this transaction's version, which no earlier write used. Inside an atomic group
/// (`MULTI`/`EXEC`) every transaction shares the group's version, so a collection deleted and
/// created again in the same group would find the elements of its first incarnation under
/// it: then a version with the top bit set (which store versions never reach) is probed
/// until one has no elements in either space.
pub(crate) fn tx_fresh_version(store: &Store, txn: &Txn<'_>, key: &[u8]) -> Result<u64> {
    let v = txn.version();
    if !store.in_atomic_group() {
        return Ok(v);
    }
    let unused = |version: u64| -> Result<bool> {
        for space in [ELEM_SPACE, ZINDEX_SPACE, GROUP_SPACE] {
            let mut it = txn.iter_range(KeyRange::prefix(&space_prefix(space, key, version)), Direction::Forward);
            if it.next_key()?.is_some() {
                return Ok(false);
            }
        }
        Ok(true)
    };
    if unused(v)? {
        return Ok(v);
    }
    let mut candidate = v;
    loop {
        candidate = candidate.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1) | (1 << 63);
        if unused(candidate)? {
            return Ok(candidate);
        }
    }
}

/// Writes the metadata of a collection, keeping `expiry`; deletes the key instead if it has
/// no elements (except streams, which exist while empty, as in Redis).
pub(crate) fn tx_store_meta(txn: &mut Txn<'_>, key: &[u8], meta: &CollMeta, expiry: Option<u64>) -> Result<()> {
    let mk = meta_key(key);
    if meta.count == 0 && meta.kind != KeyType::Stream {
        txn.delete(&mk)?;
    } else {
        txn.put_with_expiry(&mk, &meta.encode(), expiry)?;
    }
    Ok(())
}

/// Read access shared by the store (reads outside a transaction) and a transaction (reads
/// that must see its own writes), so read paths serve both commands and their `…STORE`
/// variants.
pub(crate) trait Reader {
    /// The live value of `key`.
    fn read(&self, key: &[u8]) -> Result<Option<ValueRef>>;
    /// True if `key` is live.
    fn has(&self, key: &[u8]) -> Result<bool>;
    /// Iterates a range.
    fn range(&self, range: KeyRange, dir: Direction) -> crate::store::Iter;
}

impl Reader for Store {
    fn read(&self, key: &[u8]) -> Result<Option<ValueRef>> {
        self.get(key)
    }
    fn has(&self, key: &[u8]) -> Result<bool> {
        self.exists(key)
    }
    fn range(&self, range: KeyRange, dir: Direction) -> crate::store::Iter {
        self.iter_range(range, dir)
    }
}

impl Reader for Txn<'_> {
    fn read(&self, key: &[u8]) -> Result<Option<ValueRef>> {
        self.get(key)
    }
    fn has(&self, key: &[u8]) -> Result<bool> {
        self.exists(key)
    }
    fn range(&self, range: KeyRange, dir: Direction) -> crate::store::Iter {
        self.iter_range(range, dir)
    }
}

/// The metadata of `key` through `r`: `None` if absent or not a collection of `kind`s
/// accepted by `ok`; `WrongType` if it holds a type `ok` refuses.
pub(crate) fn coll_in<R: Reader + ?Sized>(
    store: &Store,
    r: &R,
    key: &[u8],
    ok: impl Fn(KeyType) -> bool,
) -> Result<Option<CollMeta>> {
    let Some(raw) = r.read(&meta_key(key))? else { return Ok(None) };
    match decode_meta(&raw).ok_or_else(|| malformed(store, key))? {
        Meta::Coll(c) if ok(c.kind) => Ok(Some(c)),
        _ => Err(Error::WrongType),
    }
}

/// The first key of `range` in `dir`, read through `r` (a seek).
pub(crate) fn first_key<R: Reader + ?Sized>(r: &R, range: KeyRange, dir: Direction) -> Result<Option<Vec<u8>>> {
    Ok(r.range(range, dir).next_key()?.map(|(k, _)| k))
}

/// The range of keys under `prefix` after the scan `cursor` (see [`ScanResult`]).
pub(crate) fn scan_range(prefix: &[u8], cursor: &[u8]) -> Result<KeyRange> {
    let mut r = KeyRange::prefix(prefix);
    match cursor.split_first() {
        None => {}
        Some((&CURSOR_TAG, last)) => {
            let mut k = prefix.to_vec();
            k.extend_from_slice(last);
            r.start = Bound::Excluded(k);
        }
        Some(_) => return Err(Error::InvalidArgument("invalid cursor".into())),
    }
    Ok(r)
}

/// Builds a scan page: if the page is full, its cursor resumes after the last item.
pub(crate) fn page<T>(items: Vec<T>, count: usize, sub: impl Fn(&T) -> &[u8]) -> ScanResult<T> {
    let cursor = if items.len() >= count.max(1) {
        items.last().map(|last| {
            let mut c = vec![CURSOR_TAG];
            c.extend_from_slice(sub(last));
            c
        })
    } else {
        None
    };
    ScanResult { items, cursor }
}

/// Checks that an argument list is not empty (Redis's arity error).
pub(crate) fn non_empty<T>(items: &[T], command: &str) -> Result<()> {
    if items.is_empty() {
        return Err(Error::InvalidArgument(format!("wrong number of arguments for '{command}' command")));
    }
    Ok(())
}

/// True if an element key of `space` with collection version `version` belongs to the live
/// collection `m` (so it is not an orphan).
fn belongs_to(m: &CollMeta, space: u8, version: u64) -> bool {
    m.version == version
        && match space {
            ELEM_SPACE => true,
            GROUP_SPACE => m.kind == KeyType::Stream,
            _ => m.kind == KeyType::ZSet,
        }
}
