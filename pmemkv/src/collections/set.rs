//! Sets: each member is an element key `E…version ++ member` with an empty value; the
//! metadata record holds the member count. Add, remove and membership are O(log n);
//! `SMEMBERS`/`SSCAN` are ordered scans (members come back in byte order).

use crate::collections::keys::{elem_key, space_prefix, KeyType, ELEM_SPACE};
use crate::collections::{page, scan_range, tx_coll, tx_coll_or_new, tx_store_meta, Collections, ScanResult};
use crate::error::Result;
use crate::iter::{Direction, KeyRange};

impl Collections {
    /// Adds members to set `key` (`SADD`), creating it if needed. Returns the number of
    /// members that were new (a member given twice counts once).
    pub fn sadd<M: AsRef<[u8]>>(&self, key: &[u8], members: &[M]) -> Result<u64> {
        self.store.update(|txn| {
            let (mut m, expiry) = tx_coll_or_new(&self.store, txn, key, KeyType::Set)?;
            let mut added = 0;
            for member in members {
                let ek = elem_key(key, m.version, member.as_ref());
                if !txn.exists(&ek)? {
                    txn.put(&ek, &[])?;
                    added += 1;
                }
            }
            if added > 0 {
                m.count += added;
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(added)
        })
    }

    /// Removes members from set `key` (`SREM`); the set is deleted when it becomes empty.
    /// Returns the number removed.
    pub fn srem<M: AsRef<[u8]>>(&self, key: &[u8], members: &[M]) -> Result<u64> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::Set)? else { return Ok(0) };
            let mut removed = 0;
            for member in members {
                if txn.delete(&elem_key(key, m.version, member.as_ref()))? {
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

    /// True if `member` is in set `key` (`SISMEMBER`); O(log n).
    pub fn sismember(&self, key: &[u8], member: &[u8]) -> Result<bool> {
        let Some(m) = self.load_coll(key, KeyType::Set)? else { return Ok(false) };
        self.store.exists(&elem_key(key, m.version, member))
    }

    /// Number of members of set `key` (`SCARD`); O(1).
    pub fn scard(&self, key: &[u8]) -> Result<u64> {
        Ok(self.load_coll(key, KeyType::Set)?.map_or(0, |m| m.count))
    }

    /// All members of set `key` in byte order (`SMEMBERS`); O(log n + n).
    pub fn smembers(&self, key: &[u8]) -> Result<Vec<Vec<u8>>> {
        let Some(m) = self.load_coll(key, KeyType::Set)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        self.store
            .iter_range(KeyRange::prefix(&prefix), Direction::Forward)
            .keys()
            .map(|r| r.map(|(k, _)| k[prefix.len()..].to_vec()))
            .collect()
    }

    /// One page of up to `count` members of set `key` in byte order (`SSCAN`); O(log n +
    /// count). See [`ScanResult`] for the cursor.
    pub fn sscan(&self, key: &[u8], cursor: &[u8], count: usize) -> Result<ScanResult<Vec<u8>>> {
        let Some(m) = self.load_coll(key, KeyType::Set)? else {
            return Ok(ScanResult { items: Vec::new(), cursor: None });
        };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let mut items = Vec::new();
        for r in self.store.iter_range(scan_range(&prefix, cursor)?, Direction::Forward).keys() {
            items.push(r?.0[prefix.len()..].to_vec());
            if items.len() >= count.max(1) {
                break;
            }
        }
        Ok(page(items, count, |k| k.as_slice()))
    }
}
