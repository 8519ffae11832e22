//! The manifest: the durable root of a store, written at every checkpoint.
//!
//! Two files, `MANIFEST-A` and `MANIFEST-B`, are written alternately (generation `g` goes to
//! `A` when `g` is even, `B` when odd), each in one `pwrite` followed by `fsync`. A torn write
//! damages only the file being written, so the other still holds the previous checkpoint
//! (LMDB's two meta pages). Open picks the valid file with the highest generation.
//!
//! Layout (little-endian):
//!
//! ```text
//! 0   magic       "PMKVMANI"
//! 8   version     u32 (MANIFEST_FORMAT_VERSION)
//! 12  body_len    u32
//! 16  body        body_len bytes
//! ..  crc         u32: CRC32 of bytes 0 .. 16 + body_len
//! body:
//!     generation u64 | last_seq u64 | log_segment u32 | log_offset u32 |
//!     next_segment_id u32 | reserved u32 | next_run_id u64 | next_blob_id u64 |
//!     run_count u32 | run ids u64 × run_count (newest first) |
//!     segment_count u32 | (segment id u32 | total_bytes u64 | dead_bytes u64) × segment_count |
//!     pending_segment_count u32 | segment ids u32 × n |
//!     pending_blob_count u32 | blob ids u64 × n |
//!     (version ≥ 2) key_bucket_count u32 | (bucket [u8; 3] | keys u64 | expiring u64) × n |
//!     (version 3) uncommitted_blob_count u32 | blob ids u64 × n
//! ```
//!
//! Key buckets count the keys with a value in the index (expired ones included until a merge
//! drops them) by their first byte, and by their first two bytes in the collection layer's
//! metadata space (see `store::key_bucket`). Version 1 manifests have no buckets; opening one counts the keys once.
//!
//! Uncommitted blobs are the blob ids allocated but not referenced by a log record at the
//! checkpoint (see `blob_ids`); recovery deletes those the replayed tail does not reference.
//! Version 1 and 2 manifests lack the list (their stores may keep such an orphan forever).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Magic bytes of a manifest file.
pub const MANIFEST_MAGIC: &[u8; 8] = b"PMKVMANI";
/// The manifest format version this build writes and reads.
pub const MANIFEST_FORMAT_VERSION: u32 = 3;
/// The oldest manifest version this build still reads (it lacks the key counts).
pub const MANIFEST_FORMAT_V1: u32 = 1;
/// Names of the two manifest slots.
pub const MANIFEST_FILES: [&str; 2] = ["MANIFEST-A", "MANIFEST-B"];
const MANIFEST_HEADER_LEN: usize = 16;
const MAX_BODY_LEN: usize = 64 << 20;

/// Space accounting of one sealed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentStats {
    /// Segment id.
    pub id: u32,
    /// Bytes of records written into it.
    pub total_bytes: u64,
    /// Bytes of those that are superseded (overwritten, deleted, expired or tombstones).
    pub dead_bytes: u64,
}

/// The decoded contents of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Monotonic checkpoint number.
    pub generation: u64,
    /// Highest batch sequence number covered by the runs.
    pub last_seq: u64,
    /// Segment where replay starts.
    pub log_segment: u32,
    /// Offset within `log_segment` where replay starts.
    pub log_offset: u32,
    /// Id the next new segment gets.
    pub next_segment_id: u32,
    /// Id the next new run gets.
    pub next_run_id: u64,
    /// Id the next new blob gets; blobs with ids at or above this that no replayed record
    /// references are leftovers of an interrupted write.
    pub next_blob_id: u64,
    /// Live index runs, newest first.
    pub runs: Vec<u64>,
    /// Accounting of segments before the replay point.
    pub segments: Vec<SegmentStats>,
    /// Segments to unlink (their live data was relocated before this checkpoint).
    pub pending_segments: Vec<u32>,
    /// Blobs to unlink (superseded before this checkpoint).
    pub pending_blobs: Vec<u64>,
    /// Keys per two-byte bucket at the checkpoint: `(bucket, keys, keys with an expiry)`;
    /// `None` when read from a version-1 manifest.
    pub key_counts: Option<Vec<([u8; 3], u64, u64)>>,
    /// Blob ids allocated but not committed at the checkpoint (empty before version 3).
    pub uncommitted_blobs: Vec<u64>,
}

impl Manifest {
    /// Encodes the manifest file bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(128 + self.runs.len() * 8 + self.segments.len() * 20);
        body.extend_from_slice(&self.generation.to_le_bytes());
        body.extend_from_slice(&self.last_seq.to_le_bytes());
        body.extend_from_slice(&self.log_segment.to_le_bytes());
        body.extend_from_slice(&self.log_offset.to_le_bytes());
        body.extend_from_slice(&self.next_segment_id.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&self.next_run_id.to_le_bytes());
        body.extend_from_slice(&self.next_blob_id.to_le_bytes());
        body.extend_from_slice(&(self.runs.len() as u32).to_le_bytes());
        for r in &self.runs {
            body.extend_from_slice(&r.to_le_bytes());
        }
        body.extend_from_slice(&(self.segments.len() as u32).to_le_bytes());
        for s in &self.segments {
            body.extend_from_slice(&s.id.to_le_bytes());
            body.extend_from_slice(&s.total_bytes.to_le_bytes());
            body.extend_from_slice(&s.dead_bytes.to_le_bytes());
        }
        body.extend_from_slice(&(self.pending_segments.len() as u32).to_le_bytes());
        for s in &self.pending_segments {
            body.extend_from_slice(&s.to_le_bytes());
        }
        body.extend_from_slice(&(self.pending_blobs.len() as u32).to_le_bytes());
        for b in &self.pending_blobs {
            body.extend_from_slice(&b.to_le_bytes());
        }
        let counts = self.key_counts.as_deref().unwrap_or_default();
        body.extend_from_slice(&(counts.len() as u32).to_le_bytes());
        for (bucket, keys, expiring) in counts {
            body.extend_from_slice(bucket);
            body.extend_from_slice(&keys.to_le_bytes());
            body.extend_from_slice(&expiring.to_le_bytes());
        }
        body.extend_from_slice(&(self.uncommitted_blobs.len() as u32).to_le_bytes());
        for b in &self.uncommitted_blobs {
            body.extend_from_slice(&b.to_le_bytes());
        }
        let mut out = Vec::with_capacity(MANIFEST_HEADER_LEN + body.len() + 4);
        out.extend_from_slice(MANIFEST_MAGIC);
        out.extend_from_slice(&MANIFEST_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and verifies manifest file bytes.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<Manifest> {
        let bad = |offset: usize, why: &str| Error::corruption(path, offset as u64, why);
        if bytes.len() < MANIFEST_HEADER_LEN + 4 {
            return Err(bad(0, "manifest too short"));
        }
        if &bytes[0..8] != MANIFEST_MAGIC {
            return Err(bad(0, "bad manifest magic"));
        }
        let body_len = u32::from_le_bytes(bytes[12..16].try_into().expect("4")) as usize;
        if body_len > MAX_BODY_LEN || bytes.len() < MANIFEST_HEADER_LEN + body_len + 4 {
            return Err(bad(12, "manifest body length out of range"));
        }
        let end = MANIFEST_HEADER_LEN + body_len;
        let crc = u32::from_le_bytes(bytes[end..end + 4].try_into().expect("4"));
        if crc32fast::hash(&bytes[..end]) != crc {
            return Err(bad(end, "manifest checksum mismatch"));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
        if !(MANIFEST_FORMAT_V1..=MANIFEST_FORMAT_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
                supported: MANIFEST_FORMAT_VERSION,
            });
        }
        let mut r = Reader { b: &bytes[MANIFEST_HEADER_LEN..end], pos: 0 };
        let short = || bad(MANIFEST_HEADER_LEN, "manifest body truncated");
        let mut m = Manifest {
            generation: r.u64().ok_or_else(short)?,
            last_seq: r.u64().ok_or_else(short)?,
            log_segment: r.u32().ok_or_else(short)?,
            log_offset: r.u32().ok_or_else(short)?,
            next_segment_id: r.u32().ok_or_else(short)?,
            ..Manifest::default()
        };
        r.u32().ok_or_else(short)?;
        m.next_run_id = r.u64().ok_or_else(short)?;
        m.next_blob_id = r.u64().ok_or_else(short)?;
        for _ in 0..r.count(8).ok_or_else(short)? {
            m.runs.push(r.u64().ok_or_else(short)?);
        }
        for _ in 0..r.count(20).ok_or_else(short)? {
            let id = r.u32().ok_or_else(short)?;
            let total_bytes = r.u64().ok_or_else(short)?;
            let dead_bytes = r.u64().ok_or_else(short)?;
            m.segments.push(SegmentStats { id, total_bytes, dead_bytes });
        }
        for _ in 0..r.count(4).ok_or_else(short)? {
            m.pending_segments.push(r.u32().ok_or_else(short)?);
        }
        for _ in 0..r.count(8).ok_or_else(short)? {
            m.pending_blobs.push(r.u64().ok_or_else(short)?);
        }
        if version >= 2 {
            let mut counts = Vec::new();
            for _ in 0..r.count(19).ok_or_else(short)? {
                let b = r.take(3).ok_or_else(short)?;
                let bucket = [b[0], b[1], b[2]];
                if bucket[0] > 2 {
                    return Err(bad(MANIFEST_HEADER_LEN, "manifest key bucket out of range"));
                }
                counts.push((bucket, r.u64().ok_or_else(short)?, r.u64().ok_or_else(short)?));
            }
            m.key_counts = Some(counts);
        }
        if version >= 3 {
            for _ in 0..r.count(8).ok_or_else(short)? {
                m.uncommitted_blobs.push(r.u64().ok_or_else(short)?);
            }
        }
        Ok(m)
    }

    /// Writes this manifest into its slot (chosen by generation) and fsyncs it.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST_FILES[(self.generation % 2) as usize]);
        let bytes = self.encode();
        let ctx = |what: &str| format!("{what} {}", path.display());
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io(ctx("opening"), e))?;
        f.write_all(&bytes).map_err(|e| Error::io(ctx("writing"), e))?;
        f.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
        Ok(())
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count of items of `item_len` bytes that must fit in what is left.
    fn count(&mut self, item_len: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(item_len)? <= self.b.len() - self.pos).then_some(n)
    }
}

/// What [`load`] found in the directory.
#[derive(Debug)]
pub struct Loaded {
    /// The newest valid manifest, if any.
    pub manifest: Option<Manifest>,
    /// Manifest files that exist but failed verification (path, error).
    pub damaged: Vec<(PathBuf, Error)>,
}

/// Reads both manifest slots and returns the newest valid one.
pub fn load(dir: &Path) -> Result<Loaded> {
    let mut best: Option<Manifest> = None;
    let mut damaged = Vec::new();
    for name in MANIFEST_FILES {
        let path = dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        match Manifest::decode(&path, &bytes) {
            Ok(m) => {
                if best.as_ref().is_none_or(|b| m.generation > b.generation) {
                    best = Some(m);
                }
            }
            Err(e @ Error::UnsupportedVersion { .. }) => return Err(e),
            Err(e) => damaged.push((path, e)),
        }
    }
    Ok(Loaded { manifest: best, damaged })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(generation: u64) -> Manifest {
        Manifest {
            generation,
            last_seq: 99,
            log_segment: 3,
            log_offset: 4096,
            next_segment_id: 4,
            next_run_id: 7,
            next_blob_id: 2,
            runs: vec![6, 5],
            segments: vec![SegmentStats { id: 1, total_bytes: 100, dead_bytes: 40 }],
            pending_segments: vec![2],
            pending_blobs: vec![1],
            key_counts: Some(vec![([2, b'M', 0], 10, 3), ([1, b'x', 0], 1, 0)]),
            uncommitted_blobs: vec![3, 9],
        }
    }

    /// Re-frames the first `body_len` body bytes of an encoded manifest as `version`.
    fn reframe(encoded: &[u8], version: u32, body_len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MANIFEST_MAGIC);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(body_len as u32).to_le_bytes());
        out.extend_from_slice(&encoded[MANIFEST_HEADER_LEN..MANIFEST_HEADER_LEN + body_len]);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn older_versions_still_read_and_newer_ones_are_refused() {
        let m = Manifest { key_counts: Some(Vec::new()), uncommitted_blobs: Vec::new(), ..sample(5) };
        let v3 = m.encode();
        let body_len = u32::from_le_bytes(v3[12..16].try_into().unwrap()) as usize;
        // Version 2 lacks the trailing (empty) uncommitted-blob section; version 1 also the
        // key count section.
        let v2 = reframe(&v3, 2, body_len - 4);
        assert_eq!(Manifest::decode(Path::new("m"), &v2).unwrap(), m);
        let v1 = reframe(&v3, MANIFEST_FORMAT_V1, body_len - 8);
        assert_eq!(Manifest::decode(Path::new("m"), &v1).unwrap(), Manifest { key_counts: None, ..m.clone() });
        let v4 = reframe(&v3, 4, body_len);
        assert!(matches!(Manifest::decode(Path::new("m"), &v4), Err(Error::UnsupportedVersion { found: 4, .. })));
        let full = sample(6);
        assert_eq!(Manifest::decode(Path::new("m"), &full.encode()).unwrap(), full);
    }

    #[test]
    fn roundtrip_pick_newest_and_survive_torn_slot() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().manifest.is_none());
        sample(1).write(dir.path()).unwrap();
        sample(2).write(dir.path()).unwrap();
        assert_eq!(load(dir.path()).unwrap().manifest.unwrap(), sample(2));
        // Tear slot A (generation 2): generation 1 in slot B survives.
        let a = dir.path().join(MANIFEST_FILES[0]);
        let bytes = std::fs::read(&a).unwrap();
        std::fs::write(&a, &bytes[..bytes.len() / 2]).unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.manifest.unwrap(), sample(1));
        assert_eq!(loaded.damaged.len(), 1);
        // Every byte flip is detected.
        let good = sample(3).encode();
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x10;
            assert!(Manifest::decode(Path::new("m"), &b).is_err(), "flip at {i}");
        }
    }
}
