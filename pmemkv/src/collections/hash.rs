//! Hashes: each field is an element key `E…version ++ field` whose value is the field's
//! insertion number (u64-BE, [`SEQ_LEN`] bytes) followed by the field's value; the metadata
//! record holds the field count and the next insertion number. Field get/set/delete are
//! O(log n); `HGETALL`/`HSCAN` are ordered scans of the hash's key range, and small hashes can
//! also be read in insertion order ([`Collections::hgetall_compact`], Redis's listpack order);
//! random fields (`HRANDFIELD`) are picked by seeks into the field space (see
//! [`Collections::hrandfield`]).

use crate::collections::keys::{elem_key, space_prefix, CollMeta, KeyType, ELEM_SPACE};
use crate::collections::sample::random_subkeys;
use crate::collections::strings::parse_i64;
use crate::collections::{page, scan_range, tx_coll, tx_coll_or_new, tx_store_meta, Collections, ScanResult};
use crate::error::{Error, Result};
use crate::iter::{Direction, KeyRange};
use crate::store::Store;
use crate::value::ValueRef;

/// Fields and their values, as the hash reads return them.
pub type HashFields = Vec<(Vec<u8>, ValueRef)>;

/// Length of the insertion number that starts every stored field value.
pub const SEQ_LEN: usize = 8;

/// The stored form of a field value: insertion number, then the value.
fn encode_value(seq: u64, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(SEQ_LEN + value.len());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// The insertion number of a stored field value.
fn seq_of(store: &Store, key: &[u8], raw: &[u8]) -> Result<u64> {
    match raw.get(..SEQ_LEN) {
        Some(b) => Ok(u64::from_be_bytes(b.try_into().expect("SEQ_LEN bytes"))),
        None => Err(malformed_value(store, key)),
    }
}

/// The user value of a stored field value (zero-copy).
fn value_of(store: &Store, key: &[u8], raw: ValueRef) -> Result<ValueRef> {
    if raw.len() < SEQ_LEN {
        return Err(malformed_value(store, key));
    }
    Ok(raw.slice(SEQ_LEN..raw.len()))
}

fn malformed_value(store: &Store, key: &[u8]) -> Error {
    Error::corruption(
        store.path(),
        0,
        format!("hash field value shorter than its insertion number in key {:?}", String::from_utf8_lossy(key)),
    )
}

/// Takes the next insertion number of hash `m`.
fn next_seq(m: &mut CollMeta) -> u64 {
    let s = m.tail;
    m.tail = m.tail.wrapping_add(1);
    s
}

impl Collections {
    /// Sets fields of hash `key` (`HSET`), creating the hash if needed. A field given twice
    /// takes its last value; an existing field keeps its insertion position. Returns the
    /// number of fields that were new.
    pub fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: &[u8], pairs: &[(F, V)]) -> Result<u64> {
        self.store.update(|txn| {
            let (mut m, expiry) = tx_coll_or_new(&self.store, txn, key, KeyType::Hash)?;
            let mut added = 0;
            for (f, v) in pairs {
                let ek = elem_key(key, m.version, f.as_ref());
                let (seq, new) = match txn.get(&ek)? {
                    Some(old) => (seq_of(&self.store, key, &old)?, false),
                    None => {
                        added += 1;
                        (next_seq(&mut m), true)
                    }
                };
                let value = encode_value(seq, v.as_ref());
                if new {
                    txn.put_new(&ek, &value)?;
                } else {
                    txn.put(&ek, &value)?;
                }
            }
            m.count += added;
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(added)
        })
    }

    /// Sets `field` only if it does not exist (`HSETNX`); returns true if it was set.
    pub fn hsetnx(&self, key: &[u8], field: &[u8], value: &[u8]) -> Result<bool> {
        self.store.update(|txn| {
            let (mut m, expiry) = tx_coll_or_new(&self.store, txn, key, KeyType::Hash)?;
            let ek = elem_key(key, m.version, field);
            if txn.exists(&ek)? {
                return Ok(false);
            }
            let seq = next_seq(&mut m);
            txn.put(&ek, &encode_value(seq, value))?;
            m.count += 1;
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(true)
        })
    }

    /// The value of `field` in hash `key` (`HGET`), zero-copy.
    pub fn hget(&self, key: &[u8], field: &[u8]) -> Result<Option<ValueRef>> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else { return Ok(None) };
        self.store.get(&elem_key(key, m.version, field))?.map(|v| value_of(&self.store, key, v)).transpose()
    }

    /// True if `field` exists in hash `key` (`HEXISTS`).
    pub fn hexists(&self, key: &[u8], field: &[u8]) -> Result<bool> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else { return Ok(false) };
        self.store.exists(&elem_key(key, m.version, field))
    }

    /// Deletes fields of hash `key` (`HDEL`); the hash is deleted when its last field goes.
    /// Returns the number of fields removed.
    pub fn hdel<F: AsRef<[u8]>>(&self, key: &[u8], fields: &[F]) -> Result<u64> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::Hash)? else { return Ok(0) };
            let mut removed = 0;
            for f in fields {
                if txn.delete(&elem_key(key, m.version, f.as_ref()))? {
                    removed += 1;
                }
            }
            if removed > 0 {
                m.count -= removed;
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(removed)
        })
    }

    /// Number of fields of hash `key` (`HLEN`); O(1).
    pub fn hlen(&self, key: &[u8]) -> Result<u64> {
        Ok(self.load_coll(key, KeyType::Hash)?.map_or(0, |m| m.count))
    }

    /// All fields and values of hash `key` in field order (`HGETALL`); O(log n + n).
    pub fn hgetall(&self, key: &[u8]) -> Result<Vec<(Vec<u8>, ValueRef)>> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        self.store
            .iter_range(KeyRange::prefix(&prefix), Direction::Forward)
            .map(|r| {
                let (k, v) = r?;
                Ok((k[prefix.len()..].to_vec(), value_of(&self.store, key, v)?))
            })
            .collect()
    }

    /// All fields and values of hash `key` in insertion order (an updated field keeps its
    /// place), if the hash is small: at most `max_fields` fields, none of them and none of
    /// their values longer than `max_len` bytes (Redis keeps such hashes in its compact
    /// listpack encoding, in this order). `None` if the hash is larger (read it in field order
    /// then); an empty list if it does not exist. O(log n + max_fields).
    pub fn hgetall_compact(&self, key: &[u8], max_fields: usize, max_len: usize) -> Result<Option<HashFields>> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else { return Ok(Some(Vec::new())) };
        if m.count > max_fields as u64 {
            return Ok(None);
        }
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let mut items = Vec::new();
        for r in self.store.iter_range(KeyRange::prefix(&prefix), Direction::Forward) {
            let (k, raw) = r?;
            let field = &k[prefix.len()..];
            let seq = seq_of(&self.store, key, &raw)?;
            let v = value_of(&self.store, key, raw)?;
            // A concurrent writer may have grown the hash since the metadata was read.
            if items.len() >= max_fields || field.len() > max_len || v.len() > max_len {
                return Ok(None);
            }
            items.push((seq, field.to_vec(), v));
        }
        items.sort_by_key(|(seq, _, _)| *seq);
        Ok(Some(items.into_iter().map(|(_, f, v)| (f, v)).collect()))
    }

    /// One page of up to `count` fields of hash `key` in field order (`HSCAN`); O(log n +
    /// count). See [`ScanResult`] for the cursor.
    pub fn hscan(&self, key: &[u8], cursor: &[u8], count: usize) -> Result<ScanResult<(Vec<u8>, ValueRef)>> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else {
            return Ok(ScanResult { items: Vec::new(), cursor: None });
        };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let mut items = Vec::new();
        for r in self.store.iter_range(scan_range(&prefix, cursor)?, Direction::Forward) {
            let (k, v) = r?;
            items.push((k[prefix.len()..].to_vec(), value_of(&self.store, key, v)?));
            if items.len() >= count.max(1) {
                break;
            }
        }
        Ok(page(items, count, |(f, _)| f.as_slice()))
    }

    /// Adds `delta` to the integer in `field` (`HINCRBY`; an absent field counts as 0) and
    /// returns the new value.
    pub fn hincr_by(&self, key: &[u8], field: &[u8], delta: i64) -> Result<i64> {
        self.hupdate(key, field, |cur| {
            let cur = match cur {
                None => 0,
                Some(v) => parse_i64(v).ok_or_else(|| Error::InvalidArgument("hash value is not an integer".into()))?,
            };
            let n = cur
                .checked_add(delta)
                .ok_or_else(|| Error::InvalidArgument("increment or decrement would overflow".into()))?;
            Ok((Some(n.to_string().into_bytes()), n))
        })
    }

    /// The values of `fields` in hash `key` (`HMGET`; also `HGET`, `HSTRLEN`, `HEXISTS` with
    /// one field), zero-copy, in argument order. `None` if the hash does not exist (so a
    /// caller can tell a missing key from missing fields). One metadata lookup, then O(log n)
    /// per field.
    pub fn hmget<F: AsRef<[u8]>>(&self, key: &[u8], fields: &[F]) -> Result<Option<Vec<Option<ValueRef>>>> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else { return Ok(None) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let mut ek = prefix.clone();
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            ek.truncate(prefix.len());
            ek.extend_from_slice(f.as_ref());
            out.push(self.store.get(&ek)?.map(|v| value_of(&self.store, key, v)).transpose()?);
        }
        Ok(Some(out))
    }

    /// All fields of hash `key` in field order (`HKEYS`), without reading values.
    pub fn hkeys(&self, key: &[u8]) -> Result<Vec<Vec<u8>>> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        self.store
            .iter_range(KeyRange::prefix(&prefix), Direction::Forward)
            .keys()
            .map(|r| r.map(|(k, _)| k[prefix.len()..].to_vec()))
            .collect()
    }

    /// All values of hash `key` in field order (`HVALS`).
    pub fn hvals(&self, key: &[u8]) -> Result<Vec<ValueRef>> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        self.store
            .iter_range(KeyRange::prefix(&prefix), Direction::Forward)
            .map(|r| value_of(&self.store, key, r?.1))
            .collect()
    }

    /// Atomically reads and optionally rewrites one field of hash `key`, keeping the hash's
    /// expiry (and the field's insertion position): `f` gets the field's current value
    /// (`None` if the field or the hash is absent) and returns the new value (`None` = leave
    /// it) and a result. A new field creates the hash if needed; an `Err` from `f` writes
    /// nothing. One transaction, O(log n). The building block of `HINCRBY`/`HINCRBYFLOAT`-like
    /// read-modify-write commands. `WrongType` (before `f` runs) if the key holds another
    /// type.
    pub fn hupdate<R>(
        &self,
        key: &[u8],
        field: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<(Option<Vec<u8>>, R)>,
    ) -> Result<R> {
        self.store.update(|txn| {
            let (mut m, expiry) = tx_coll_or_new(&self.store, txn, key, KeyType::Hash)?;
            let ek = elem_key(key, m.version, field);
            let raw = txn.get(&ek)?;
            let old_seq = raw.as_ref().map(|r| seq_of(&self.store, key, r)).transpose()?;
            let cur = raw.map(|v| value_of(&self.store, key, v)).transpose()?;
            let (new, r) = f(cur.as_deref())?;
            if let Some(new) = new {
                let seq = match old_seq {
                    Some(s) => s,
                    None => {
                        m.count += 1;
                        let s = next_seq(&mut m);
                        tx_store_meta(txn, key, &m, expiry)?;
                        s
                    }
                };
                txn.put(&ek, &encode_value(seq, &new))?;
            }
            Ok(r)
        })
    }

    /// Random fields of hash `key` (`HRANDFIELD`), with their values if `with_values`.
    ///
    /// With `distinct`, `min(count, HLEN)` different fields (all of them, in field order, if
    /// `count >= HLEN`); without, `count` independent picks that may repeat. `seed` seeds the
    /// generator (pass a random one). Small hashes (and requests for a large share of the
    /// hash) are sampled exactly uniformly from one streaming read; otherwise each pick costs
    /// a few O(log n) seeks into the field space and never reads the whole hash. Those picks
    /// are uniform for common field layouts, with a bounded, documented bias for skewed ones:
    /// see the `sample` module (`pmemkv/src/collections/sample.rs`). Returns an empty list if
    /// the hash does not exist, and fewer items only if fields are deleted concurrently.
    pub fn hrandfield(
        &self,
        key: &[u8],
        count: u64,
        distinct: bool,
        with_values: bool,
        seed: u64,
    ) -> Result<Vec<(Vec<u8>, Option<ValueRef>)>> {
        let Some(m) = self.load_coll(key, KeyType::Hash)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let fields = random_subkeys(&self.store, &prefix, m.count, count, distinct, seed)?;
        if !with_values {
            return Ok(fields.into_iter().map(|f| (f, None)).collect());
        }
        let mut out = Vec::with_capacity(fields.len());
        let mut ek = prefix.clone();
        for f in fields {
            ek.truncate(prefix.len());
            ek.extend_from_slice(&f);
            // A field deleted since it was picked is left out.
            if let Some(v) = self.store.get(&ek)? {
                out.push((f, Some(value_of(&self.store, key, v)?)));
            }
        }
        Ok(out)
    }
}
