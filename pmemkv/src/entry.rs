//! Index entries: what the index (memtable and runs) stores for each key.
//!
//! An entry never holds the value itself, only where it lives and the metadata needed to
//! answer a read without touching the value (version, expiry, length, checksum).

/// Where a live value's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueLoc {
    /// Inside a log segment: `len` bytes at `offset` of segment `segment`, whose CRC32 is `crc`.
    Inline {
        /// Segment id.
        segment: u32,
        /// Byte offset of the value within the segment file.
        offset: u32,
        /// Value length in bytes.
        len: u32,
        /// CRC32 (crc32fast / IEEE) of the value bytes.
        crc: u32,
    },
    /// In its own blob file (large values written by the streaming writer).
    Blob {
        /// Blob id (file `blob-<id>.pkb`).
        id: u64,
        /// Value length in bytes.
        len: u64,
    },
}

impl ValueLoc {
    /// The value's length in bytes.
    pub fn len(&self) -> u64 {
        match *self {
            ValueLoc::Inline { len, .. } => len as u64,
            ValueLoc::Blob { len, .. } => len,
        }
    }

    /// True if the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the index holds for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Version of the write that produced this entry (the batch sequence number). Used for
    /// compare-and-swap. Strictly increasing across writes of the store.
    pub version: u64,
    /// Absolute expiry time in milliseconds since the Unix epoch; 0 means no expiry.
    pub expire_at_ms: u64,
    /// `None` is a tombstone (the key was deleted); `Some` locates the value.
    pub value: Option<ValueLoc>,
}

/// Length of [`Entry::encode`]'s output.
pub const ENTRY_ENCODED_LEN: usize = 1 + 8 + 8 + 8 + 8;

const KIND_TOMBSTONE: u8 = 0;
const KIND_INLINE: u8 = 1;
const KIND_BLOB: u8 = 2;

impl Entry {
    /// True if the entry is a tombstone.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// True if the entry has an expiry at or before `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }

    /// True if the key is visible (not deleted, not expired) at `now_ms`.
    pub fn is_live(&self, now_ms: u64) -> bool {
        !self.is_tombstone() && !self.is_expired(now_ms)
    }

    /// Encodes the entry into a fixed 33-byte little-endian layout:
    /// `kind u8 | version u64 | expire_at_ms u64 | a u64 | b u64` where for an inline value
    /// `a = segment | offset << 32` and `b = len | crc << 32`, for a blob `a = id, b = len`,
    /// and for a tombstone `a = b = 0`.
    pub fn encode(&self) -> [u8; ENTRY_ENCODED_LEN] {
        let (kind, a, b) = match self.value {
            None => (KIND_TOMBSTONE, 0u64, 0u64),
            Some(ValueLoc::Inline { segment, offset, len, crc }) => {
                (KIND_INLINE, segment as u64 | (offset as u64) << 32, len as u64 | (crc as u64) << 32)
            }
            Some(ValueLoc::Blob { id, len }) => (KIND_BLOB, id, len),
        };
        let mut out = [0u8; ENTRY_ENCODED_LEN];
        out[0] = kind;
        out[1..9].copy_from_slice(&self.version.to_le_bytes());
        out[9..17].copy_from_slice(&self.expire_at_ms.to_le_bytes());
        out[17..25].copy_from_slice(&a.to_le_bytes());
        out[25..33].copy_from_slice(&b.to_le_bytes());
        out
    }

    /// Decodes [`Entry::encode`]'s layout. Fails on a short slice or an unknown kind byte.
    pub fn decode(bytes: &[u8]) -> Result<Entry, &'static str> {
        if bytes.len() < ENTRY_ENCODED_LEN {
            return Err("entry shorter than its fixed length");
        }
        let u = |r: std::ops::Range<usize>| u64::from_le_bytes(bytes[r].try_into().expect("8 bytes"));
        let (version, expire_at_ms, a, b) = (u(1..9), u(9..17), u(17..25), u(25..33));
        let value = match bytes[0] {
            KIND_TOMBSTONE => None,
            KIND_INLINE => Some(ValueLoc::Inline {
                segment: a as u32,
                offset: (a >> 32) as u32,
                len: b as u32,
                crc: (b >> 32) as u32,
            }),
            KIND_BLOB => Some(ValueLoc::Blob { id: a, len: b }),
            _ => return Err("unknown entry kind byte"),
        };
        Ok(Entry { version, expire_at_ms, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_roundtrip() {
        for value in [
            None,
            Some(ValueLoc::Inline { segment: 7, offset: 123_456, len: 99, crc: 0xdead_beef }),
            Some(ValueLoc::Blob { id: 1 << 40, len: 5 << 30 }),
        ] {
            let e = Entry { version: 42, expire_at_ms: 1_700_000_000_000, value };
            assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
        }
        let mut bad = Entry { version: 1, expire_at_ms: 0, value: None }.encode();
        bad[0] = 9;
        assert!(Entry::decode(&bad).is_err());
        assert!(Entry::decode(&bad[..10]).is_err());
    }
}
