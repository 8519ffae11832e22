//! Log segment files: preallocated, mapped read-only for readers, appended through a
//! writable mapping of their own (or `pwrite`).
//!
//! A segment is `seg-<id:08x>.pkl`: a 64-byte header followed by records (see
//! [`crate::record`]). It is created at its full capacity (a sparse file), so appends never
//! extend the file and the whole file can be mapped once: readers get zero-copy slices of
//! values for as long as they hold an `Arc<Segment>`, even after compaction has unlinked the
//! file. Disk blocks are reserved with `fallocate` ahead of the writes, [`ALLOC_STEP`] at a
//! time: a full disk is an error from the reservation, before anything is written, and a
//! small store does not hold a whole segment's worth of disk. The log writer appends through
//! an [`AppendMapping`] ([`Segment::append`]) only into reserved space and only where the
//! filesystem overwrites reserved blocks in place ([`io::mapped_appends_safe`]), so no store
//! can fault; anywhere else it falls back to `pwrite`.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::io::{self, AppendMapping, MappedFile};

/// Magic bytes at the start of every segment.
pub const SEGMENT_MAGIC: &[u8; 8] = b"PMKVSEG\0";
/// The segment format version this build writes and reads.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Bytes of the segment header; the first record starts here.
pub const SEGMENT_HEADER_LEN: u64 = 64;
/// Offset of the header CRC (over bytes `0..SEGMENT_HEADER_CRC_AT`).
const SEGMENT_HEADER_CRC_AT: usize = 60;

/// File name of segment `id`.
pub fn segment_file_name(id: u32) -> String {
    format!("seg-{id:08x}.pkl")
}

/// Parses a segment file name back into its id.
pub fn parse_segment_file_name(name: &str) -> Option<u32> {
    let hex = name.strip_prefix("seg-")?.strip_suffix(".pkl")?;
    if hex.len() != 8 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Disk space reserved ahead of the writes at a time.
pub const ALLOC_STEP: u64 = 8 << 20;

/// One open log segment.
#[derive(Debug)]
pub struct Segment {
    id: u32,
    path: PathBuf,
    file: File,
    map: MappedFile,
    /// Bytes from the start of the file known to be reserved on disk.
    allocated: AtomicU64,
}

impl Segment {
    /// Creates segment `id` in `dir` with `capacity` bytes preallocated, writes and syncs its
    /// header. The caller syncs the directory.
    pub fn create(dir: &Path, id: u32, capacity: u64) -> Result<Segment> {
        let path = dir.join(segment_file_name(id));
        let ctx = |what: &str| format!("{what} segment {}", path.display());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(ctx("creating"), e))?;
        let result = (|| {
            file.set_len(capacity).map_err(|e| Error::io(ctx("sizing"), e))?;
            io::preallocate(&file, 0, ALLOC_STEP.min(capacity)).map_err(|e| Error::io(ctx("preallocating"), e))?;
            let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
            header[0..8].copy_from_slice(SEGMENT_MAGIC);
            header[8..12].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
            header[16..20].copy_from_slice(&id.to_le_bytes());
            let crc = crc32fast::hash(&header[..SEGMENT_HEADER_CRC_AT]);
            header[SEGMENT_HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
            io::write_at(&file, &header, 0).map_err(|e| Error::io(ctx("writing header of"), e))?;
            file.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
            let map = MappedFile::map(&file, capacity).map_err(|e| Error::io(ctx("mapping"), e))?;
            map.advise_random();
            Ok(Segment { id, path: path.clone(), file, map, allocated: AtomicU64::new(ALLOC_STEP.min(capacity)) })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    /// Opens an existing segment and verifies its header.
    pub fn open(dir: &Path, id: u32) -> Result<Segment> {
        let path = dir.join(segment_file_name(id));
        let ctx = |what: &str| format!("{what} segment {}", path.display());
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(|e| Error::io(ctx("opening"), e))?;
        let len = file.metadata().map_err(|e| Error::io(ctx("reading metadata of"), e))?.len();
        if len < SEGMENT_HEADER_LEN {
            return Err(Error::corruption(&path, 0, "segment shorter than its header"));
        }
        if len > u32::MAX as u64 {
            return Err(Error::corruption(&path, 0, "segment larger than 4 GiB"));
        }
        let map = MappedFile::map(&file, len).map_err(|e| Error::io(ctx("mapping"), e))?;
        // Before the first access: a fault on a cold mapping without it reads a whole
        // readahead window (`read_ahead_kb`, up to MiBs) just to check the header.
        map.advise_random();
        let header = &map[..SEGMENT_HEADER_LEN as usize];
        if &header[0..8] != SEGMENT_MAGIC {
            return Err(Error::corruption(&path, 0, "bad segment magic"));
        }
        let crc = u32::from_le_bytes(header[SEGMENT_HEADER_CRC_AT..].try_into().expect("4"));
        if crc32fast::hash(&header[..SEGMENT_HEADER_CRC_AT]) != crc {
            return Err(Error::corruption(&path, 0, "segment header checksum mismatch"));
        }
        let version = u32::from_le_bytes(header[8..12].try_into().expect("4"));
        if version != SEGMENT_FORMAT_VERSION {
            return Err(Error::UnsupportedVersion { path, found: version, supported: SEGMENT_FORMAT_VERSION });
        }
        let stored_id = u32::from_le_bytes(header[16..20].try_into().expect("4"));
        if stored_id != id {
            return Err(Error::corruption(&path, 16, format!("segment header names id {stored_id}, file name {id}")));
        }
        // Unknown: the next write reserves its range again (a no-op where already reserved).
        Ok(Segment { id, path, file, map, allocated: AtomicU64::new(0) })
    }

    /// The segment id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Capacity (file length) in bytes.
    pub fn capacity(&self) -> u64 {
        self.map.len() as u64
    }

    /// The mapped bytes of the whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Reserves disk space for writes up to `end` (in [`ALLOC_STEP`]s). An error here (e.g.
    /// `ENOSPC`) means nothing was written: the caller can fail the write cleanly.
    pub fn ensure_allocated(&self, end: u64) -> Result<()> {
        let have = self.allocated.load(Ordering::Acquire);
        if end <= have {
            return Ok(());
        }
        let capacity = self.capacity();
        let want = end.div_ceil(ALLOC_STEP).saturating_mul(ALLOC_STEP).min(capacity).max(end.min(capacity));
        io::preallocate(&self.file, have, want - have)
            .map_err(|e| Error::io(format!("preallocating segment {}", self.path.display()), e))?;
        self.allocated.fetch_max(want, Ordering::AcqRel);
        Ok(())
    }

    /// Writes `buf` at `offset` (must lie within the capacity and be reserved, see
    /// [`Segment::ensure_allocated`]).
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        if offset + buf.len() as u64 > self.capacity() {
            return Err(Error::InvalidArgument(format!("write past the end of segment {}", self.id)));
        }
        io::write_at(&self.file, buf, offset)
            .map_err(|e| Error::io(format!("writing segment {}", self.path.display()), e))
    }

    /// A writable mapping for [`Segment::append`], or `None` where appends must use
    /// `pwrite` (a filesystem that may need new blocks to overwrite reserved ones, see
    /// [`io::mapped_appends_safe`], or a failed `mmap`).
    pub fn append_mapping(&self) -> Option<AppendMapping> {
        if !io::mapped_appends_safe(&self.file) {
            return None;
        }
        match AppendMapping::map(&self.file, self.capacity()) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(segment = self.id, error = %e, "cannot map the segment for appends; using pwrite");
                None
            }
        }
    }

    /// Appends `buf` at `offset` through `map` (this segment's [`Segment::append_mapping`])
    /// when the range is reserved on disk (see [`Segment::ensure_allocated`]), else — or
    /// without a mapping — with [`Segment::write_at`].
    pub fn append(&self, map: Option<&mut AppendMapping>, buf: &[u8], offset: u64) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        match map {
            Some(map) if end.is_some_and(|e| e <= self.allocated.load(Ordering::Acquire) && e <= self.capacity()) => {
                map.write(buf, offset).map_err(|e| Error::io(format!("writing segment {}", self.path.display()), e))
            }
            _ => self.write_at(buf, offset),
        }
    }

    /// fdatasyncs the segment.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(format!("syncing segment {}", self.path.display()), e))
    }

    /// Returns `len` verified bytes at `offset`, checking them against `crc`.
    pub fn read_verified(&self, offset: u32, len: u32, crc: u32) -> Result<&[u8]> {
        let start = offset as usize;
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= self.map.len())
            .ok_or_else(|| Error::corruption(&self.path, offset as u64, "value location lies outside the segment"))?;
        let bytes = &self.map[start..end];
        if crc32fast::hash(bytes) != crc {
            return Err(Error::corruption(&self.path, offset as u64, "value checksum mismatch"));
        }
        Ok(bytes)
    }
}

/// Lists the segment ids present in `dir`, ascending.
pub fn list_segments(dir: &Path) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        if let Some(id) = ent.file_name().to_str().and_then(parse_segment_file_name) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_open_and_verify_header() {
        let dir = tempfile::tempdir().unwrap();
        let seg = Segment::create(dir.path(), 5, 1 << 16).unwrap();
        seg.write_at(b"abc", 100).unwrap();
        assert_eq!(&seg.bytes()[100..103], b"abc");
        assert!(seg.write_at(b"x", 1 << 16).is_err());
        let crc = crc32fast::hash(b"abc");
        assert_eq!(seg.read_verified(100, 3, crc).unwrap(), b"abc");
        assert!(seg.read_verified(100, 3, crc ^ 1).unwrap_err().is_corruption());
        assert!(seg.read_verified(u32::MAX, 3, crc).unwrap_err().is_corruption());
        drop(seg);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![5]);
        let seg = Segment::open(dir.path(), 5).unwrap();
        assert_eq!(seg.capacity(), 1 << 16);
        drop(seg);
        let path = dir.path().join(segment_file_name(5));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8] = 9; // version
        let crc = crc32fast::hash(&bytes[..60]);
        bytes[60..64].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(Segment::open(dir.path(), 5), Err(Error::UnsupportedVersion { found: 9, .. })));
        bytes[3] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(Segment::open(dir.path(), 5).unwrap_err().is_corruption());
        assert_eq!(parse_segment_file_name("seg-0000000a.pkl"), Some(10));
        assert_eq!(parse_segment_file_name("seg-a.pkl"), None);
    }

    #[test]
    fn appends_through_the_mapping_are_seen_by_readers_the_file_and_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let seg = Segment::create(dir.path(), 7, 4 * ALLOC_STEP).unwrap();
        // Forced on, whatever the filesystem: what is tested is the mapping itself.
        let mut map = AppendMapping::map(&seg.file, seg.capacity()).unwrap();
        seg.ensure_allocated(SEGMENT_HEADER_LEN + 4096).unwrap();
        seg.append(Some(&mut map), b"mapped", SEGMENT_HEADER_LEN).unwrap();
        assert_eq!(&seg.bytes()[64..70], b"mapped");
        // Beyond the reserved space the append falls back to pwrite; it still lands.
        let far = 3 * ALLOC_STEP;
        seg.append(Some(&mut map), b"pwritten", far).unwrap();
        assert_eq!(&seg.bytes()[far as usize..far as usize + 8], b"pwritten");
        // A range outside the file is refused either way, and writes nothing.
        assert!(seg.append(Some(&mut map), b"xy", seg.capacity() - 1).is_err());
        assert!(map.write(b"xy", seg.capacity() - 1).is_err());
        assert!(map.write(b"xy", u64::MAX).is_err());
        seg.sync().unwrap();
        let on_disk = std::fs::read(seg.path()).unwrap();
        assert_eq!(&on_disk[64..70], b"mapped");
        drop(map);
        drop(seg);
        let seg = Segment::open(dir.path(), 7).unwrap();
        assert_eq!(&seg.bytes()[64..70], b"mapped");
        assert_eq!(&seg.bytes()[far as usize..far as usize + 8], b"pwritten");
        // The store's own choice: whichever it makes, an append lands.
        let mut own = seg.append_mapping();
        seg.ensure_allocated(SEGMENT_HEADER_LEN + 4096).unwrap();
        seg.append(own.as_mut(), b"again", 200).unwrap();
        assert_eq!(&seg.bytes()[200..205], b"again");
    }

    #[test]
    fn appends_move_the_mapped_window_across_boundaries_backwards_and_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let cap = 3 * crate::io::APPEND_WINDOW + 12_345;
        let seg = Segment::create(dir.path(), 3, cap).unwrap();
        let mut map = AppendMapping::map(&seg.file, seg.capacity()).unwrap();
        seg.ensure_allocated(seg.capacity()).unwrap();
        let w = crate::io::APPEND_WINDOW;
        let big: Vec<u8> = (0..2 * w + 100).map(|i| (i % 251) as u8).collect();
        // (offset, bytes): straddling a window's end, larger than a window, at the very end
        // of the file (a short last window), then back at the start.
        let writes: Vec<(u64, Vec<u8>)> = vec![
            (SEGMENT_HEADER_LEN, b"first".to_vec()),
            (w - 3, b"straddles".to_vec()),
            (w + 4000, big.clone()),
            (seg.capacity() - 4, b"tail".to_vec()),
            (100, b"back".to_vec()),
        ];
        for (off, bytes) in &writes {
            seg.append(Some(&mut map), bytes, *off).unwrap();
        }
        assert!(map.write(b"xy", seg.capacity() - 1).is_err());
        for (off, bytes) in &writes {
            let at = *off as usize;
            assert_eq!(&seg.bytes()[at..at + bytes.len()], &bytes[..], "write at {off}");
        }
        drop(map);
        seg.sync().unwrap();
        let on_disk = std::fs::read(seg.path()).unwrap();
        for (off, bytes) in &writes {
            let at = *off as usize;
            assert_eq!(&on_disk[at..at + bytes.len()], &bytes[..], "write at {off} on disk");
        }
    }
}
