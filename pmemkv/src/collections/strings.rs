//! Strings: the value is stored in the key's metadata record, right after the type byte, so
//! a read is one zero-copy lookup and a write is one record.

use crate::collections::keys::{
    encode_string, encode_string_as, is_string_type, meta_key, Meta, StringForm, STRING_HEADER_LEN,
};
use crate::collections::{tx_load, Collections};
use crate::error::{Error, Result};
use crate::options::{Condition, Expiry};
use crate::store::{Txn, WriteBatch};
use crate::value::{ReadValue, ValueRef};

/// Options of [`Collections::str_set`] (Redis `SET`'s `NX`/`XX`, `EX`/`PX`/`KEEPTTL` and `GET`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SetOptions {
    /// When to set: always, only if the key is absent (`NX`), only if present (`XX`), or only
    /// if the metadata record's store version matches (compare-and-swap; 0 = absent).
    pub condition: Condition,
    /// The new expiry: none (plain `SET`), an absolute time, or the key's current one
    /// (`KEEPTTL`).
    pub expiry: Expiry,
    /// Return the old value (`GET`); the key must then hold a string (else `WrongType`).
    pub get: bool,
}

/// What [`Collections::str_set`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// True if the value was written (the condition held).
    pub applied: bool,
    /// The old value, if [`SetOptions::get`] was set and the key held a string.
    pub old: Option<Vec<u8>>,
}

impl Collections {
    /// The value of string `key` (`GET`), zero-copy. `None` if absent; `WrongType` if the key
    /// holds a collection.
    pub fn str_get(&self, key: &[u8]) -> Result<Option<ValueRef>> {
        match self.load(key)? {
            None => Ok(None),
            Some((Meta::String, raw)) => Ok(Some(raw.slice(STRING_HEADER_LEN..raw.len()))),
            Some(_) => Err(Error::WrongType),
        }
    }

    /// Calls `f` with the value of the string whose user key is the concatenation of
    /// `key_parts` (e.g. a database prefix and a key) — `None` if absent, `WrongType` if the
    /// key holds a collection. The fastest read: one key allocation, no reference count, no
    /// copy before `f`.
    pub fn str_get_with<R>(&self, key_parts: &[&[u8]], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        self.str_get_with_ref(key_parts, usize::MAX, |v| f(v.as_deref()))
    }

    /// [`Collections::str_get_with`], handing a value of at least `min_ref_len` bytes over as
    /// a [`ReadValue::Ref`] that `f` may keep (see [`Store::get_with_ref`]).
    pub fn str_get_with_ref<R>(
        &self,
        key_parts: &[&[u8]],
        min_ref_len: usize,
        f: impl FnOnce(Option<ReadValue<'_>>) -> R,
    ) -> Result<R> {
        let mk = meta_key_of_parts(key_parts);
        let mut f = Some(f);
        let min_raw = min_ref_len.saturating_add(STRING_HEADER_LEN);
        let r = self.store.get_with_ref(&mk, min_raw, |raw| match raw {
            None => Ok((f.take().expect("called once"))(None)),
            Some(raw) if raw.first().is_some_and(|b| is_string_type(*b)) => {
                Ok((f.take().expect("called once"))(Some(raw.skip(STRING_HEADER_LEN))))
            }
            Some(_) => Err(Error::WrongType),
        })?;
        r
    }

    /// Prefetches the strings whose user keys are `prefix ++ key` for each of `keys` (see
    /// [`Store::prefetch_many`](crate::Store::prefetch_many)): a batch of reads of one
    /// database issues this first.
    pub fn str_prefetch_many<'k>(&self, prefix: &[u8], keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        let mut ends: smallvec::SmallVec<[usize; 64]> = smallvec::SmallVec::new();
        for key in keys {
            buf.push(crate::collections::keys::META_SPACE);
            buf.extend_from_slice(prefix);
            buf.extend_from_slice(key);
            ends.push(buf.len());
        }
        let mut start = 0;
        let meta: smallvec::SmallVec<[&[u8]; 64]> = ends
            .iter()
            .map(|&end| {
                let k = &buf[start..end];
                start = end;
                k
            })
            .collect();
        self.store.prefetch_many(&meta);
    }

    /// Sets string `key` (`SET`). Like Redis, a plain set replaces a key of any type (a
    /// collection's elements become orphans, reclaimed by
    /// [`Collections::purge_orphans`]).
    pub fn str_set(&self, key: &[u8], value: &[u8], opts: SetOptions) -> Result<SetOutcome> {
        let mk = meta_key(key);
        let small = !self.is_big(value.len());
        if let (true, Condition::Always, false, Expiry::Never | Expiry::At(_)) =
            (small, opts.condition, opts.get, opts.expiry)
        {
            // Nothing to read first: one blind write, no transaction.
            let expire_at_ms = match opts.expiry {
                Expiry::At(t) => t,
                _ => 0,
            };
            let mut b = WriteBatch::new();
            b.put_with_expiry(mk, encode_string(value), expire_at_ms);
            self.store.write(&b)?;
            return Ok(SetOutcome { applied: true, old: None });
        }
        self.store.update(|txn| {
            let cur = tx_load(&self.store, txn, key)?;
            let old = match (opts.get, cur.meta) {
                (false, _) | (true, None) => None,
                (true, Some(Meta::String)) => cur.raw.as_ref().map(|r| r[STRING_HEADER_LEN..].to_vec()),
                (true, Some(_)) => return Err(Error::WrongType),
            };
            let ok = match opts.condition {
                Condition::Always => true,
                Condition::IfAbsent => cur.meta.is_none(),
                Condition::IfPresent => cur.meta.is_some(),
                Condition::IfVersion(v) => txn.meta(&mk)?.map_or(0, |m| m.version) == v,
            };
            if !ok {
                return Ok(SetOutcome { applied: false, old });
            }
            let expiry = match opts.expiry {
                Expiry::Never => None,
                Expiry::At(t) => Some(t),
                Expiry::Keep => cur.expiry,
            };
            self.put_string(txn, &mk, value, expiry)?;
            Ok(SetOutcome { applied: true, old })
        })
    }

    /// Sets several strings atomically (`MSET`), clearing their expiry. With `only_if_none_exist`
    /// (`MSETNX`) nothing is written if any of the keys exists; returns whether it wrote.
    pub fn str_mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)], only_if_none_exist: bool) -> Result<bool> {
        if !only_if_none_exist {
            return self.str_put_many(pairs).map(|()| true);
        }
        self.store.update(|txn| {
            if only_if_none_exist {
                for (k, _) in pairs {
                    if txn.exists(&meta_key(k.as_ref()))? {
                        return Ok(false);
                    }
                }
            }
            for (k, v) in pairs {
                self.put_string(txn, &meta_key(k.as_ref()), v.as_ref(), None)?;
            }
            Ok(true)
        })
    }

    /// Sets several strings as plain `SET`s would (no condition, no expiry, no old value) in
    /// one atomic write: the pipelined-`SET` fast path. A later pair for the same key wins.
    pub fn str_put_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<()> {
        if pairs.iter().any(|(_, v)| self.is_big(v.as_ref().len())) {
            return self.store.update(|txn| {
                for (k, v) in pairs {
                    self.put_string(txn, &meta_key(k.as_ref()), v.as_ref(), None)?;
                }
                Ok(())
            });
        }
        let mut b = WriteBatch::new();
        for (k, v) in pairs {
            b.put(meta_key(k.as_ref()), encode_string(v.as_ref()));
        }
        self.store.write(&b).map(drop)
    }

    /// Atomically reads and optionally rewrites string `key`, keeping its expiry: `f` gets the
    /// current value (`None` if absent) and returns the new value (`None` = leave it) and a
    /// result. The building block of `INCR`, `APPEND`, `SETRANGE`, `GETDEL`-like commands.
    /// `WrongType` if the key holds a collection.
    pub fn str_update<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<(Option<Vec<u8>>, R)>,
    ) -> Result<R> {
        self.str_update_as(key, |old| {
            let (new, r) = f(old)?;
            Ok((new.map(|v| (v, StringForm::Plain)), r))
        })
    }

    /// [`Collections::str_update`] where `f` also gives the new value's [`StringForm`] (how
    /// Redis's `OBJECT ENCODING` will see it, see [`Collections::str_form`]).
    pub fn str_update_as<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<(Option<(Vec<u8>, StringForm)>, R)>,
    ) -> Result<R> {
        self.store.update(|txn| {
            let cur = tx_load(&self.store, txn, key)?;
            let old = match cur.meta {
                None => None,
                Some(Meta::String) => cur.raw.as_ref().map(|r| &r[STRING_HEADER_LEN..]),
                Some(_) => return Err(Error::WrongType),
            };
            let (new, r) = f(old)?;
            if let Some((new, form)) = new {
                self.put_string_as(txn, &meta_key(key), &new, cur.expiry, form)?;
            }
            Ok(r)
        })
    }

    /// The [`StringForm`] of string `key` (see [`Collections::str_update_as`]); `Plain` for a
    /// missing key or a key of another type.
    pub fn str_form(&self, key: &[u8]) -> Result<StringForm> {
        self.store.get_with(&meta_key(key), |v| v.map_or(StringForm::Plain, StringForm::of))
    }

    /// True if a string of `len` bytes is too large for the log and goes to a blob file.
    fn is_big(&self, len: usize) -> bool {
        (STRING_HEADER_LEN + len) as u64 > self.store.options().max_inline_value
    }

    /// Writes the metadata record of a string in `txn`: inline in the log when it fits,
    /// otherwise as a blob file (streamed in chunks, committed with the transaction), so
    /// strings up to Redis's 512 MB limit (and beyond) work.
    pub(crate) fn put_string(&self, txn: &mut Txn<'_>, mk: &[u8], value: &[u8], expiry: Option<u64>) -> Result<()> {
        self.put_string_as(txn, mk, value, expiry, StringForm::Plain)
    }

    /// [`Collections::put_string`] for a string of the given form.
    pub(crate) fn put_string_as(
        &self,
        txn: &mut Txn<'_>,
        mk: &[u8],
        value: &[u8],
        expiry: Option<u64>,
        form: StringForm,
    ) -> Result<()> {
        if !self.is_big(value.len()) {
            return txn.put_with_expiry(mk, &encode_string_as(value, form), expiry);
        }
        let mut stage = self.store.stage_blob()?;
        let io = |e: std::io::Error| Error::io("writing a large string to its blob file", e);
        std::io::Write::write_all(&mut stage, &[form.type_byte()]).map_err(io)?;
        std::io::Write::write_all(&mut stage, value).map_err(io)?;
        txn.put_blob(mk, stage.finish()?, expiry)
    }

    /// Adds `delta` to the integer in string `key` (`INCRBY`; an absent key counts as 0) and
    /// returns the new value. Errors like Redis if the value is not an integer or the result
    /// would overflow.
    pub fn str_incr_by(&self, key: &[u8], delta: i64) -> Result<i64> {
        self.str_update(key, |old| {
            let cur = match old {
                None => 0,
                Some(b) => parse_i64(b)
                    .ok_or_else(|| Error::InvalidArgument("value is not an integer or out of range".into()))?,
            };
            let n = cur
                .checked_add(delta)
                .ok_or_else(|| Error::InvalidArgument("increment or decrement would overflow".into()))?;
            Ok((Some(n.to_string().into_bytes()), n))
        })
    }

    /// Appends `value` to string `key` (`APPEND`; creates it if absent) and returns the new
    /// length.
    pub fn str_append(&self, key: &[u8], value: &[u8]) -> Result<u64> {
        self.str_update_as(key, |old| {
            // Appending to an existing string changes it in place (Redis: `raw`).
            let form = if old.is_some() { StringForm::ChangedInPlace } else { StringForm::Plain };
            let mut v = old.unwrap_or_default().to_vec();
            v.extend_from_slice(value);
            let len = v.len() as u64;
            Ok((Some((v, form)), len))
        })
    }

    /// Deletes string `key` and returns its value (`GETDEL`). `WrongType` (and no delete) if
    /// the key holds a collection.
    pub fn str_getdel(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.store.update(|txn| {
            let cur = tx_load(&self.store, txn, key)?;
            match cur.meta {
                None => Ok(None),
                Some(Meta::String) => {
                    txn.delete(&meta_key(key))?;
                    Ok(cur.raw.map(|r| r[STRING_HEADER_LEN..].to_vec()))
                }
                Some(_) => Err(Error::WrongType),
            }
        })
    }
}

/// The metadata key of the user key made of `parts` (e.g. a database prefix and a key), built
/// on the stack for short keys: no allocation on the `GET` path.
fn meta_key_of_parts(parts: &[&[u8]]) -> smallvec::SmallVec<[u8; 64]> {
    let mut mk = smallvec::SmallVec::new();
    mk.push(crate::collections::keys::META_SPACE);
    for p in parts {
        mk.extend_from_slice(p);
    }
    mk
}

/// Parses a decimal `i64` the way Redis does (optional `-`, no `+`, no leading zeros or
/// spaces).
pub(crate) fn parse_i64(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') || s == "-0" {
        return None;
    }
    s.parse().ok()
}
