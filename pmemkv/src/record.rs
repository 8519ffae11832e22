//! The log record codec: pure encoding and verified decoding of write batches.
//!
//! A record is one atomic write batch. Layout (little-endian, see `docs/format.md`):
//!
//! ```text
//! 0   crc        u32  CRC32 of bytes 4 .. RECORD_HEADER_LEN + payload_len
//! 4   payload_len u32 bytes of ops after the header
//! 8   kind       u8   RECORD_KIND_BATCH (0xB1); 0 never starts a record (zeroed space)
//! 9   reserved   [u8; 3] zero
//! 12  seq        u64  batch sequence number, strictly increasing along the log
//! 20  op_count   u32
//! 24  ops        payload_len bytes
//!     padding    zero bytes up to the next multiple of RECORD_ALIGN
//! ```
//!
//! Each op: `tag u8 | key_len u32 | version u64 | expire_at_ms u64 | val_len u32 | key | value`.
//! Tags: 1 put (value inline), 2 delete, 3 set-expiry (changes only the expiry of the live
//! value), 4 put-blob (value is `blob id u64 | blob len u64`).

use crate::entry::ValueLoc;

/// Bytes of the record header.
pub const RECORD_HEADER_LEN: usize = 24;
/// Records start at multiples of this many bytes within a segment.
pub const RECORD_ALIGN: usize = 8;
/// The kind byte of a write-batch record.
pub const RECORD_KIND_BATCH: u8 = 0xB1;
/// Fixed bytes of an op before its key.
pub const OP_HEADER_LEN: usize = 1 + 4 + 8 + 8 + 4;

/// What an op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Store the value.
    Put = 1,
    /// Delete the key.
    Delete = 2,
    /// Change the expiry of the key's current value.
    SetExpiry = 3,
    /// Point the key at a complete blob file.
    PutBlob = 4,
}

impl OpKind {
    fn from_u8(b: u8) -> Option<OpKind> {
        Some(match b {
            1 => OpKind::Put,
            2 => OpKind::Delete,
            3 => OpKind::SetExpiry,
            4 => OpKind::PutBlob,
            _ => return None,
        })
    }
}

/// One op to encode.
#[derive(Debug, Clone, Copy)]
pub struct OpRef<'a> {
    /// What it does.
    pub kind: OpKind,
    /// The key.
    pub key: &'a [u8],
    /// Version stamped on the resulting entry.
    pub version: u64,
    /// Expiry (ms since epoch, 0 = none).
    pub expire_at_ms: u64,
    /// Inline value for `Put`; empty otherwise (`PutBlob` carries its id/len separately).
    pub value: &'a [u8],
    /// Blob id and length for `PutBlob`.
    pub blob: (u64, u64),
}

/// Encoded size of an op.
pub fn op_len(op: &OpRef<'_>) -> usize {
    OP_HEADER_LEN + op.key.len() + value_len(op)
}

fn value_len(op: &OpRef<'_>) -> usize {
    match op.kind {
        OpKind::Put => op.value.len(),
        OpKind::PutBlob => 16,
        OpKind::Delete | OpKind::SetExpiry => 0,
    }
}

/// Rounds `n` up to the record alignment.
pub fn align_up(n: usize) -> usize {
    n.div_ceil(RECORD_ALIGN) * RECORD_ALIGN
}

/// Encoded size (with padding) of a record holding `ops_len` bytes of ops.
pub fn record_len(ops_len: usize) -> usize {
    align_up(RECORD_HEADER_LEN + ops_len)
}

/// Encodes a record into `buf` (cleared first). For every `Put` op, pushes the offset of its
/// value relative to the record start and the value's CRC into `value_positions`.
pub fn encode_record(buf: &mut Vec<u8>, seq: u64, ops: &[OpRef<'_>], value_positions: &mut Vec<(u32, u32)>) {
    buf.clear();
    value_positions.clear();
    buf.resize(RECORD_HEADER_LEN, 0);
    for op in ops {
        buf.push(op.kind as u8);
        buf.extend_from_slice(&(op.key.len() as u32).to_le_bytes());
        buf.extend_from_slice(&op.version.to_le_bytes());
        buf.extend_from_slice(&op.expire_at_ms.to_le_bytes());
        buf.extend_from_slice(&(value_len(op) as u32).to_le_bytes());
        buf.extend_from_slice(op.key);
        match op.kind {
            OpKind::Put => {
                value_positions.push((buf.len() as u32, crc32fast::hash(op.value)));
                buf.extend_from_slice(op.value);
            }
            OpKind::PutBlob => {
                buf.extend_from_slice(&op.blob.0.to_le_bytes());
                buf.extend_from_slice(&op.blob.1.to_le_bytes());
            }
            OpKind::Delete | OpKind::SetExpiry => {}
        }
    }
    let payload_len = buf.len() - RECORD_HEADER_LEN;
    buf[4..8].copy_from_slice(&(payload_len as u32).to_le_bytes());
    buf[8] = RECORD_KIND_BATCH;
    buf[12..20].copy_from_slice(&seq.to_le_bytes());
    buf[20..24].copy_from_slice(&(ops.len() as u32).to_le_bytes());
    let crc = crc32fast::hash(&buf[4..]);
    buf[0..4].copy_from_slice(&crc.to_le_bytes());
    buf.resize(align_up(buf.len()), 0);
}

/// Result of looking at the bytes where a record may start.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// The header is all zero: clean end of the written part of the segment.
    End,
    /// A record whose checksum and structure verified.
    Record {
        /// Its sequence number.
        seq: u64,
        /// Its op count.
        op_count: u32,
        /// Total length including padding.
        len: usize,
    },
    /// Bytes that are not a valid record (torn write or corruption).
    Invalid(&'static str),
}

/// Verifies the record starting at `bytes[0]` (`bytes` runs to the end of the segment).
pub fn probe(bytes: &[u8]) -> Probe {
    if bytes.len() < RECORD_HEADER_LEN {
        return if bytes.iter().all(|&b| b == 0) { Probe::End } else { Probe::Invalid("truncated header") };
    }
    let header = &bytes[..RECORD_HEADER_LEN];
    if header.iter().all(|&b| b == 0) {
        return Probe::End;
    }
    if header[8] != RECORD_KIND_BATCH {
        return Probe::Invalid("unknown record kind");
    }
    let crc = u32::from_le_bytes(header[0..4].try_into().expect("4"));
    let payload_len = u32::from_le_bytes(header[4..8].try_into().expect("4")) as usize;
    let Some(total) = RECORD_HEADER_LEN.checked_add(payload_len) else { return Probe::Invalid("length overflow") };
    if total > bytes.len() {
        return Probe::Invalid("record runs past the end of the segment");
    }
    if crc32fast::hash(&bytes[4..total]) != crc {
        return Probe::Invalid("record checksum mismatch");
    }
    let seq = u64::from_le_bytes(header[12..20].try_into().expect("8"));
    let op_count = u32::from_le_bytes(header[20..24].try_into().expect("4"));
    // Structure check: the ops must exactly fill the payload.
    let mut it = OpIter { buf: &bytes[..total], pos: RECORD_HEADER_LEN, left: op_count };
    for op in it.by_ref() {
        if op.is_err() {
            return Probe::Invalid("malformed op");
        }
    }
    if it.pos != total {
        return Probe::Invalid("ops do not fill the record");
    }
    Probe::Record { seq, op_count, len: align_up(total).min(bytes.len()) }
}

/// A decoded op borrowing from a verified record.
#[derive(Debug, Clone, Copy)]
pub struct DecodedOp<'a> {
    /// What it does.
    pub kind: OpKind,
    /// The key.
    pub key: &'a [u8],
    /// Version of the entry.
    pub version: u64,
    /// Expiry, 0 = none.
    pub expire_at_ms: u64,
    /// Offset of the value bytes from the record start (Put only).
    pub value_offset: usize,
    /// The value bytes (Put), or the 16 blob bytes (PutBlob).
    pub value: &'a [u8],
}

impl DecodedOp<'_> {
    /// For a `PutBlob` op, the blob location.
    pub fn blob_loc(&self) -> Option<ValueLoc> {
        if self.kind != OpKind::PutBlob || self.value.len() != 16 {
            return None;
        }
        let id = u64::from_le_bytes(self.value[0..8].try_into().ok()?);
        let len = u64::from_le_bytes(self.value[8..16].try_into().ok()?);
        Some(ValueLoc::Blob { id, len })
    }
}

/// Iterates the ops of a record (`buf` starts at the record header).
pub struct OpIter<'a> {
    buf: &'a [u8],
    pos: usize,
    left: u32,
}

/// Iterates the ops of a record that [`probe`] verified; `record` starts at its header and
/// spans at least the record.
pub fn ops(record: &[u8]) -> OpIter<'_> {
    let op_count = u32::from_le_bytes(record[20..24].try_into().expect("verified header"));
    let payload_len = u32::from_le_bytes(record[4..8].try_into().expect("verified header")) as usize;
    let end = (RECORD_HEADER_LEN + payload_len).min(record.len());
    OpIter { buf: &record[..end], pos: RECORD_HEADER_LEN, left: op_count }
}

impl<'a> Iterator for OpIter<'a> {
    type Item = Result<DecodedOp<'a>, &'static str>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let b = self.buf;
        let p = self.pos;
        if b.len() < p + OP_HEADER_LEN {
            self.left = 0;
            return Some(Err("op header past end"));
        }
        let Some(kind) = OpKind::from_u8(b[p]) else {
            self.left = 0;
            return Some(Err("unknown op tag"));
        };
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4")) as usize;
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8"));
        let key_len = u32_at(p + 1);
        let version = u64_at(p + 5);
        let expire_at_ms = u64_at(p + 13);
        let val_len = u32_at(p + 21);
        let key_start = p + OP_HEADER_LEN;
        let Some(end) = key_start.checked_add(key_len).and_then(|k| k.checked_add(val_len)) else {
            self.left = 0;
            return Some(Err("op length overflow"));
        };
        if end > b.len() || (kind == OpKind::PutBlob && val_len != 16) {
            self.left = 0;
            return Some(Err("op past end of record"));
        }
        self.pos = end;
        Some(Ok(DecodedOp {
            kind,
            key: &b[key_start..key_start + key_len],
            version,
            expire_at_ms,
            value_offset: key_start + key_len,
            value: &b[key_start + key_len..end],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op<'a>(kind: OpKind, key: &'a [u8], value: &'a [u8]) -> OpRef<'a> {
        OpRef { kind, key, version: 9, expire_at_ms: 5, value, blob: (3, 4) }
    }

    #[test]
    fn roundtrip_and_verify() {
        let ops_in = [
            op(OpKind::Put, b"k1", b"value one"),
            op(OpKind::Delete, b"k2", b""),
            op(OpKind::SetExpiry, b"k3", b""),
            op(OpKind::PutBlob, b"k4", b""),
            op(OpKind::Put, b"", b""),
        ];
        let mut buf = Vec::new();
        let mut pos = Vec::new();
        encode_record(&mut buf, 77, &ops_in, &mut pos);
        assert_eq!(buf.len() % RECORD_ALIGN, 0);
        assert_eq!(buf.len(), record_len(ops_in.iter().map(op_len).sum()));
        let mut seg = buf.clone();
        seg.extend_from_slice(&[0u8; 64]);
        assert_eq!(probe(&seg), Probe::Record { seq: 77, op_count: 5, len: buf.len() });
        assert_eq!(probe(&seg[buf.len()..]), Probe::End);
        let decoded: Vec<_> = ops(&seg).map(|o| o.unwrap()).collect();
        assert_eq!(decoded.len(), 5);
        assert_eq!(decoded[0].key, b"k1");
        assert_eq!(decoded[0].value, b"value one");
        assert_eq!(&seg[pos[0].0 as usize..][..9], b"value one");
        assert_eq!(pos[0].1, crc32fast::hash(b"value one"));
        assert_eq!(decoded[3].blob_loc(), Some(ValueLoc::Blob { id: 3, len: 4 }));
        assert_eq!(decoded[2].kind, OpKind::SetExpiry);
        // Every single-byte flip in the record is detected.
        for i in 0..RECORD_HEADER_LEN + ops_in.iter().map(op_len).sum::<usize>() {
            let mut bad = seg.clone();
            bad[i] ^= 0x40;
            assert!(matches!(probe(&bad), Probe::Invalid(_)), "flip at {i} undetected");
        }
        // Truncation is detected.
        assert!(matches!(probe(&seg[..buf.len() - 9]), Probe::Invalid(_)));
    }
}
