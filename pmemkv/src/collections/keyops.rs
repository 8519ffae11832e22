//! Whole-key operations of any type: atomic multi-key delete, conditional expiry, rename and
//! copy (`DEL`, `EXPIRE … NX|XX|GT|LT`, `RENAME`, `RENAMENX`, `COPY`).
//!
//! Rename and copy of a collection rewrite its elements under the destination key (a new
//! version), in one transaction: O(elements), like Redis's `COPY` (Redis renames in O(1); the
//! element keys here embed the user key, as in Kvrocks). The transaction must fit in one log
//! segment, so a collection too large for that fails with `BatchTooLarge` and changes nothing.

use crate::collections::keys::{
    decode_meta, meta_key, space_prefix, CollMeta, Meta, StringForm, ELEM_SPACE, GROUP_SPACE, ZINDEX_SPACE,
};
use crate::collections::{malformed, tx_fresh_version, Collections};
use crate::error::Result;
use crate::iter::{Direction, KeyRange};
use crate::store::Txn;

/// What [`Collections::expire_if`]'s decision function answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireDecision {
    /// Leave the key as it is.
    Keep,
    /// Set (`Some`) or clear (`None`) its expiry.
    Set(Option<u64>),
    /// Delete the key now (Redis's `EXPIRE` with a time already past deletes the key rather
    /// than leaving it expired until the purge, so it stops counting in `DBSIZE` at once).
    Delete,
}

impl Collections {
    /// Deletes every key in `keys` that exists, atomically; returns how many existed (a key
    /// named twice counts once).
    pub fn delete_keys<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        self.store.update(|txn| {
            let mut n = 0;
            for k in keys {
                if txn.delete(&meta_key(k.as_ref()))? {
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    /// Atomically reads the expiry of `key` and lets `decide` change it: `decide` gets the
    /// current expiry (`None`: persistent) and is not called if the key does not exist.
    /// Returns whether the key existed and `decide` changed it.
    pub fn expire_if(&self, key: &[u8], decide: impl FnOnce(Option<u64>) -> ExpireDecision) -> Result<bool> {
        let mk = meta_key(key);
        self.store.update(|txn| {
            let Some(m) = txn.meta(&mk)? else { return Ok(false) };
            match decide(m.expire_at_ms) {
                ExpireDecision::Keep => Ok(false),
                ExpireDecision::Set(at) => txn.expire(&mk, at),
                ExpireDecision::Delete => txn.delete(&mk),
            }
        })
    }

    /// Renames `src` to `dst` keeping its value, type and expiry (`RENAME`, or `RENAMENX`
    /// with `only_if_absent`). Returns `Ok(None)` if `src` does not exist, `Ok(Some(false))`
    /// if `only_if_absent` and `dst` exists, `Ok(Some(true))` once renamed. Renaming a key
    /// to itself succeeds without a change.
    pub fn rename_key(&self, src: &[u8], dst: &[u8], only_if_absent: bool) -> Result<Option<bool>> {
        self.store.update(|txn| {
            let smk = meta_key(src);
            if txn.meta(&smk)?.is_none() {
                return Ok(None);
            }
            if src == dst {
                return Ok(Some(!only_if_absent));
            }
            if only_if_absent && txn.exists(&meta_key(dst))? {
                return Ok(Some(false));
            }
            self.copy_in(txn, src, dst)?;
            txn.delete(&smk)?;
            Ok(Some(true))
        })
    }

    /// Copies `src` to `dst` with its expiry (`COPY`). Without `replace`, nothing happens if
    /// `dst` exists. Returns whether it copied (false also when `src` does not exist or
    /// `src == dst`).
    pub fn copy_key(&self, src: &[u8], dst: &[u8], replace: bool) -> Result<bool> {
        self.store.update(|txn| {
            if src == dst || txn.meta(&meta_key(src))?.is_none() {
                return Ok(false);
            }
            if !replace && txn.exists(&meta_key(dst))? {
                return Ok(false);
            }
            self.copy_in(txn, src, dst)?;
            Ok(true)
        })
    }

    /// Writes a copy of `src` (which exists) under `dst`, replacing whatever `dst` held.
    fn copy_in(&self, txn: &mut Txn<'_>, src: &[u8], dst: &[u8]) -> Result<()> {
        let smk = meta_key(src);
        let raw = txn.get(&smk)?.expect("caller checked that src exists").to_vec();
        let expiry = txn.meta(&smk)?.and_then(|m| m.expire_at_ms);
        let meta = decode_meta(&raw).ok_or_else(|| malformed(&self.store, src))?;
        let record = match meta {
            // A string may be too big to put inline (a blob): write it the way strings are.
            Meta::String => {
                return self.put_string_as(txn, &meta_key(dst), &raw[1..], expiry, StringForm::of(&raw));
            }
            Meta::Coll(c) => {
                // Not simply this transaction's version: inside an atomic group `dst` may
                // have held a collection of that version already, whose elements would show.
                let version = tx_fresh_version(&self.store, txn, dst)?;
                for space in [ELEM_SPACE, GROUP_SPACE, ZINDEX_SPACE] {
                    let from = space_prefix(space, src, c.version);
                    let to = space_prefix(space, dst, version);
                    let mut items = Vec::new();
                    for r in txn.iter_range(KeyRange::prefix(&from), Direction::Forward) {
                        let (k, v) = r?;
                        items.push((k, v.to_vec()));
                    }
                    for (k, v) in items {
                        let mut nk = to.clone();
                        nk.extend_from_slice(&k[from.len()..]);
                        txn.put(&nk, &v)?;
                    }
                }
                CollMeta { version, ..c }.encode()
            }
        };
        txn.put_with_expiry(&meta_key(dst), &record, expiry)
    }
}
