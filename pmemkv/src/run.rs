//! Index runs: immutable, sorted, checksummed files mapping keys to [`Entry`]s.
//!
//! At a checkpoint the memtable is written out by a [`RunBuilder`] as one run file. A run is
//! opened by mapping it read-only ([`Run::open`] reads and checks only the 64-byte header, so
//! opening is O(1) whatever the run's size); point reads go through an on-disk hash table and
//! ordered reads through a sorted offsets array, both read straight from the mapping. Every
//! structure a reader trusts is covered by a CRC32 (crc32fast / IEEE) that is checked before
//! use, so damaged bytes surface as [`Error::Corruption`], never as a wrong [`Entry`].
//!
//! # File format (version 3, little-endian throughout)
//!
//! ```text
//! header, 64 bytes at offset 0
//!   0   magic             [u8; 8]  b"PMKVRUN\0"
//!   8   format_version    u32      RUN_FORMAT_VERSION (3), or 2 or 1 (see below)
//!   12  flags             u32      0 (any other value is rejected as corruption)
//!   16  run_id            u64
//!   24  entry_count       u64      at most MAX_RUN_ENTRIES (u32::MAX - 1)
//!   32  entries_offset    u64      start of the entries region (64)
//!   40  offsets_offset    u64      start of the offsets array (a multiple of 8)
//!   48  hash_offset       u64      start of the hash table (a multiple of 4096)
//!   56  hash_block_count  u32      number of 4096-byte hash blocks (at least 1)
//!   60  header_crc        u32      CRC32 of header bytes 0..60
//!
//! entries region, entries_offset .. offsets_offset
//!   entry_count entries, back to back in strictly increasing key order, each:
//!   0   crc               u32      CRC32 of the entry's bytes 4 .. 45 + key_len
//!   4   ordinal           u32      the entry's index in key order (0-based)
//!   8   key_len           u32      at most MAX_KEY_LEN
//!   12  entry             [u8; 33] Entry::encode
//!   45  key               [u8; key_len]
//!   then zero bytes up to offsets_offset (fewer than 8)
//!
//! offsets array, offsets_offset .. offsets_offset + 8 * entry_count
//!   entry_count × u64: the file offset of entry i (keys strictly increasing, so unique)
//!   then zero bytes up to hash_offset (fewer than 4096)
//!
//! hash table, hash_offset .. hash_offset + 4096 * hash_block_count (= end of file)
//!   hash_block_count blocks of 4096 bytes, each:
//!   version 3:
//!   0     255 slots of 16 bytes (fingerprint 0 = empty slot):
//!           0  fingerprint  u32
//!           4  target       u32  file offset of the entry
//!           8  value_hint   u64  segment u32 << 32 | offset u32 of the entry's inline value
//!                                in the log; u64::MAX for a tombstone or a blob
//!   4080  zero  [u8; 8]
//!   versions 1 and 2:
//!   0     511 slots of 8 bytes: fingerprint u32 | target u32 (fingerprint 0 = empty slot)
//!         target = the file offset of the entry (version 2) or its ordinal (version 1)
//!   all versions:
//!   4088  crc   u32  CRC32 of the block's bytes 0..4088
//!   4092  zero  u32
//! ```
//!
//! The hash table has `slot_count = S × hash_block_count` slots (`S` = 255 slots per block
//! in version 3, 511 in versions 1 and 2), numbered across blocks (slot `s` is slot `s % S`
//! of block `s / S`). With `h = xxh3_64(key)`
//! (`xxhash_rust::xxh3::xxh3_64`), a key's fingerprint is `(h >> 32) as u32 | 1` (never 0) and
//! its home slot is `h % slot_count`; collisions are resolved by linear probing to the next
//! slot, wrapping from the last slot to slot 0. A lookup stops at the first empty slot. The
//! builder chooses `hash_block_count = max(1, ceil(2 × entry_count / S))`; readers require
//! `slot_count ≥ 2 × entry_count` (load factor at most 0.5, so every probe sequence reaches an
//! empty slot). The file's size is exactly `hash_offset + 4096 × hash_block_count`.
//!
//! An entry's ordinal is covered by its CRC, so an offsets-array slot damaged into pointing at
//! another well-formed entry is detected (the ordinal does not match the index looked up).
//!
//! Version 2 differs from version 1 only in what a hash slot's target holds: the entry's file
//! offset, so a point read touches one hash block and the entry (no offsets-array hop, one
//! cache miss fewer). A point read checks that the target lies inside the entries region and
//! verifies the entry's CRC and key before trusting it. The builder writes version 1 when the
//! entries region ends beyond `u32::MAX` (offsets would not fit a slot); readers accept all
//! three versions.
//!
//! Version 3 widens the slot to carry a hint of where the entry's value starts in the log.
//! A point read issues a prefetch of that position before it reads the entry, so the entry's
//! cache miss and the value's overlap (two dependent misses per read instead of three). The
//! hint is never trusted: the value is read from the location in the CRC-checked entry, and a
//! hint naming no mapped byte is ignored. [`Run::verify`] checks that every hint matches its
//! entry.
//!
//! While building, the builder spills `(entry offset u64, key hash u64, value hint u64)` to a temporary
//! file named `<run file name>` + [`OFFSETS_TMP_SUFFIX`] next to the run; it is removed when the
//! builder finishes or is dropped. Recovery may delete any stale file with that suffix.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::entry::{Entry, ValueLoc, ENTRY_ENCODED_LEN};
use crate::error::{Error, Result};
use crate::io::{preallocate, write_at, MappedFile, MappedFileMut};
use crate::MAX_KEY_LEN;

/// Magic bytes at the start of every run file.
pub const RUN_MAGIC: [u8; 8] = *b"PMKVRUN\0";
/// The run format version this build writes (16-byte hash slots: entry offset and a hint of
/// where the entry's value lies in the log).
pub const RUN_FORMAT_VERSION: u32 = 3;
/// Version 2 (8-byte hash slots holding the entry's file offset, no value hint): still read.
pub const RUN_FORMAT_V2: u32 = 2;
/// Version 1 (hash slots hold ordinals): still read, and still written for a run whose
/// entries region does not fit 32-bit offsets.
pub const RUN_FORMAT_V1: u32 = 1;
/// Length of the run header in bytes.
pub const RUN_HEADER_LEN: usize = 64;
/// Header offset of the format version (u32).
pub const HDR_VERSION_AT: usize = 8;
/// Header offset of the flags (u32, must be 0).
pub const HDR_FLAGS_AT: usize = 12;
/// Header offset of the run id (u64).
pub const HDR_RUN_ID_AT: usize = 16;
/// Header offset of the entry count (u64).
pub const HDR_COUNT_AT: usize = 24;
/// Header offset of `entries_offset` (u64).
pub const HDR_ENTRIES_OFFSET_AT: usize = 32;
/// Header offset of `offsets_offset` (u64).
pub const HDR_OFFSETS_OFFSET_AT: usize = 40;
/// Header offset of `hash_offset` (u64).
pub const HDR_HASH_OFFSET_AT: usize = 48;
/// Header offset of the hash block count (u32).
pub const HDR_HASH_BLOCKS_AT: usize = 56;
/// Header offset of the header CRC32 (u32), computed over bytes `0..HDR_CRC_AT`.
pub const HDR_CRC_AT: usize = 60;

/// Offset of the CRC32 (u32) within an entry record.
pub const ENTRY_CRC_AT: usize = 0;
/// Offset of the ordinal (u32) within an entry record; the CRC covers bytes from here on.
pub const ENTRY_ORDINAL_AT: usize = 4;
/// Offset of the key length (u32) within an entry record.
pub const ENTRY_KEY_LEN_AT: usize = 8;
/// Offset of the encoded [`Entry`] (33 bytes) within an entry record.
pub const ENTRY_BODY_AT: usize = 12;
/// Fixed bytes of an entry record before its key.
pub const ENTRY_RECORD_HEADER_LEN: usize = ENTRY_BODY_AT + ENTRY_ENCODED_LEN;

/// The offsets array starts at a multiple of this many bytes.
pub const OFFSETS_ALIGN: u64 = 8;
/// Bytes of one hash block; the hash table starts at a multiple of this.
pub const HASH_BLOCK_LEN: usize = 4096;
/// Bytes of one hash slot in versions 1 and 2 (`fingerprint u32 | target u32`).
pub const HASH_SLOT_LEN: usize = 8;
/// Hash slots in one block in versions 1 and 2.
pub const HASH_SLOTS_PER_BLOCK: usize = 511;
/// Bytes of one hash slot in version 3 (`fingerprint u32 | entry offset u32 | value hint u64`).
pub const HASH_SLOT_LEN_V3: usize = 16;
/// Hash slots in one block in version 3.
pub const HASH_SLOTS_PER_BLOCK_V3: usize = 255;
/// Offset of the block CRC32 (u32) within a hash block (all versions); it covers bytes
/// `0..HASH_BLOCK_CRC_AT`.
pub const HASH_BLOCK_CRC_AT: usize = HASH_SLOTS_PER_BLOCK * HASH_SLOT_LEN;
/// A version 3 slot's value hint when the entry has no value in the log (tombstone or blob).
pub const NO_VALUE_HINT: u64 = u64::MAX;
/// Most entries one run may hold (ordinals are u32).
pub const MAX_RUN_ENTRIES: u64 = u32::MAX as u64 - 1;
/// Suffix appended to the run's file name for the builder's temporary offsets file.
pub const OFFSETS_TMP_SUFFIX: &str = ".offsets.tmp";

const IO_BUF_LEN: usize = 64 * 1024;
/// Bytes the builder spills per entry: entry offset u64 | key hash u64 | value hint u64.
const SPILL_LEN: usize = 24;

use crate::memtable::key_hash;

fn fingerprint(hash: u64) -> u32 {
    ((hash >> 32) as u32) | 1
}

/// What a hash slot holds, by run format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotLayout {
    /// Version 1: the entry's ordinal.
    Ordinal,
    /// Version 2: the entry's file offset.
    Offset,
    /// Version 3: the entry's file offset and a hint of its value's log position.
    OffsetHint,
}

impl SlotLayout {
    fn for_version(version: u32) -> Option<SlotLayout> {
        match version {
            RUN_FORMAT_V1 => Some(SlotLayout::Ordinal),
            RUN_FORMAT_V2 => Some(SlotLayout::Offset),
            RUN_FORMAT_VERSION => Some(SlotLayout::OffsetHint),
            _ => None,
        }
    }

    fn version(self) -> u32 {
        match self {
            SlotLayout::Ordinal => RUN_FORMAT_V1,
            SlotLayout::Offset => RUN_FORMAT_V2,
            SlotLayout::OffsetHint => RUN_FORMAT_VERSION,
        }
    }

    fn slot_len(self) -> usize {
        match self {
            SlotLayout::OffsetHint => HASH_SLOT_LEN_V3,
            _ => HASH_SLOT_LEN,
        }
    }

    fn slots_per_block(self) -> u64 {
        match self {
            SlotLayout::OffsetHint => HASH_SLOTS_PER_BLOCK_V3 as u64,
            _ => HASH_SLOTS_PER_BLOCK as u64,
        }
    }

    /// Hash blocks the builder uses for `count` entries (load factor at most 0.5).
    fn blocks_for(self, count: u64) -> u64 {
        count.saturating_mul(2).div_ceil(self.slots_per_block()).max(1)
    }
}

/// The value hint a version 3 slot stores for `entry`: `segment << 32 | offset` of an inline
/// value, [`NO_VALUE_HINT`] otherwise.
fn value_hint(entry: &Entry) -> u64 {
    match entry.value {
        Some(ValueLoc::Inline { segment, offset, .. }) => ((segment as u64) << 32) | offset as u64,
        _ => NO_VALUE_HINT,
    }
}

fn align_up(x: u64, align: u64) -> Option<u64> {
    x.checked_add(align - 1).map(|v| v / align * align)
}

/// Little-endian u32 at `at`. Callers pass in-range positions; out of range reads as 0.
fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at.saturating_add(4)) {
        a.copy_from_slice(s);
    }
    debug_assert!(at.saturating_add(4) <= b.len(), "le_u32 out of range");
    u32::from_le_bytes(a)
}

/// Little-endian u64 at `at`. Callers pass in-range positions; out of range reads as 0.
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at.saturating_add(8)) {
        a.copy_from_slice(s);
    }
    debug_assert!(at.saturating_add(8) <= b.len(), "le_u64 out of range");
    u64::from_le_bytes(a)
}

/// The decoded header fields.
#[derive(Debug, Clone, Copy)]
struct Header {
    version: u32,
    run_id: u64,
    count: u64,
    entries_offset: u64,
    offsets_offset: u64,
    hash_offset: u64,
    hash_blocks: u32,
}

impl Header {
    fn encode(&self) -> [u8; RUN_HEADER_LEN] {
        let mut h = [0u8; RUN_HEADER_LEN];
        h[..8].copy_from_slice(&RUN_MAGIC);
        h[HDR_VERSION_AT..HDR_VERSION_AT + 4].copy_from_slice(&self.version.to_le_bytes());
        h[HDR_FLAGS_AT..HDR_FLAGS_AT + 4].copy_from_slice(&0u32.to_le_bytes());
        h[HDR_RUN_ID_AT..HDR_RUN_ID_AT + 8].copy_from_slice(&self.run_id.to_le_bytes());
        h[HDR_COUNT_AT..HDR_COUNT_AT + 8].copy_from_slice(&self.count.to_le_bytes());
        h[HDR_ENTRIES_OFFSET_AT..HDR_ENTRIES_OFFSET_AT + 8].copy_from_slice(&self.entries_offset.to_le_bytes());
        h[HDR_OFFSETS_OFFSET_AT..HDR_OFFSETS_OFFSET_AT + 8].copy_from_slice(&self.offsets_offset.to_le_bytes());
        h[HDR_HASH_OFFSET_AT..HDR_HASH_OFFSET_AT + 8].copy_from_slice(&self.hash_offset.to_le_bytes());
        h[HDR_HASH_BLOCKS_AT..HDR_HASH_BLOCKS_AT + 4].copy_from_slice(&self.hash_blocks.to_le_bytes());
        let crc = crc32fast::hash(&h[..HDR_CRC_AT]);
        h[HDR_CRC_AT..HDR_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        h
    }
}

// ---------------------------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------------------------

/// Writes a new run file from entries added in strictly increasing key order.
///
/// Heap use is bounded independently of the number of entries: entries are streamed to the
/// run file through a buffered writer, `(offset, key hash)` pairs are spilled to a temporary
/// file next to it, and the hash table is filled in place through a writable mapping of the
/// preallocated tail of the run file.
///
/// [`RunBuilder::finish`] fsyncs the run file but neither renames it nor syncs its directory;
/// the caller publishes it. A builder dropped without a successful `finish` (including one
/// whose `finish` failed) removes both the run file it created and its temporary file.
#[derive(Debug)]
pub struct RunBuilder {
    path: PathBuf,
    tmp_path: PathBuf,
    out: Option<BufWriter<File>>,
    tmp: Option<BufWriter<File>>,
    run_id: u64,
    count: u64,
    /// File offset at which the next entry will be written.
    pos: u64,
    last_key: Vec<u8>,
    /// Set after an I/O error: the files are in an unknown state and the builder refuses work.
    failed: bool,
    finished: bool,
    /// Largest entries-region end for which hash slots hold file offsets (format versions 2
    /// and 3); beyond it the builder writes version 1 (slots hold ordinals). Lowered by tests.
    slot_offset_limit: u64,
    /// The layout written when offsets fit (version 3; tests write version 2 to check that it
    /// is still read).
    layout: SlotLayout,
}

impl RunBuilder {
    /// Creates the run file at `path` (which must not exist) and its temporary offsets file.
    pub fn create(path: &Path, run_id: u64) -> Result<RunBuilder> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(format!("creating index run {}", path.display()), e))?;
        let mut tmp_name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        tmp_name.push(OFFSETS_TMP_SUFFIX);
        let tmp_path = path.with_file_name(tmp_name);
        let tmp = match OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp_path) {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(Error::io(format!("creating temporary offsets file {}", tmp_path.display()), e));
            }
        };
        let mut builder = RunBuilder {
            path: path.to_path_buf(),
            tmp_path,
            out: Some(BufWriter::with_capacity(IO_BUF_LEN, file)),
            tmp: Some(BufWriter::with_capacity(IO_BUF_LEN, tmp)),
            run_id,
            count: 0,
            pos: RUN_HEADER_LEN as u64,
            last_key: Vec::new(),
            failed: false,
            finished: false,
            slot_offset_limit: u32::MAX as u64,
            layout: SlotLayout::OffsetHint,
        };
        // Placeholder header; the real one is written by `finish`.
        let placeholder = [0u8; RUN_HEADER_LEN];
        let res = match builder.out.as_mut() {
            Some(out) => out.write_all(&placeholder),
            None => Ok(()),
        };
        res.map_err(|e| Error::io(format!("writing index run {}", path.display()), e))?;
        Ok(builder)
    }

    /// The path of the run file being built.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entries added so far.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True if no entry has been added yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `key → entry`. Keys must be strictly increasing (bytewise); a key that is not
    /// greater than the previous one, or a run that already holds [`MAX_RUN_ENTRIES`], is
    /// rejected with [`Error::InvalidArgument`] and leaves the builder unchanged. A key longer
    /// than [`MAX_KEY_LEN`] is rejected with [`Error::KeyTooLarge`].
    pub fn add(&mut self, key: &[u8], entry: &Entry) -> Result<()> {
        self.check_usable()?;
        if key.len() > MAX_KEY_LEN {
            return Err(Error::KeyTooLarge { len: key.len(), max: MAX_KEY_LEN });
        }
        if self.count >= MAX_RUN_ENTRIES {
            return Err(Error::InvalidArgument(format!(
                "index run {} cannot hold more than {MAX_RUN_ENTRIES} entries",
                self.path.display()
            )));
        }
        if self.count > 0 && key <= self.last_key.as_slice() {
            return Err(Error::InvalidArgument(format!(
                "index run keys must be strictly increasing (entry {} of {})",
                self.count,
                self.path.display()
            )));
        }
        // Both fit in u32: count < MAX_RUN_ENTRIES and key.len() <= MAX_KEY_LEN.
        let ordinal = self.count as u32;
        let mut head = [0u8; ENTRY_RECORD_HEADER_LEN];
        head[ENTRY_ORDINAL_AT..ENTRY_ORDINAL_AT + 4].copy_from_slice(&ordinal.to_le_bytes());
        head[ENTRY_KEY_LEN_AT..ENTRY_KEY_LEN_AT + 4].copy_from_slice(&(key.len() as u32).to_le_bytes());
        head[ENTRY_BODY_AT..].copy_from_slice(&entry.encode());
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&head[ENTRY_ORDINAL_AT..]);
        hasher.update(key);
        let crc = hasher.finalize();
        head[ENTRY_CRC_AT..ENTRY_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());

        let mut spill = [0u8; SPILL_LEN];
        spill[..8].copy_from_slice(&self.pos.to_le_bytes());
        spill[8..16].copy_from_slice(&key_hash(key).to_le_bytes());
        spill[16..].copy_from_slice(&value_hint(entry).to_le_bytes());

        let res = (|| -> std::io::Result<()> {
            let out = self.out.as_mut().ok_or_else(|| std::io::Error::other("builder closed"))?;
            out.write_all(&head)?;
            out.write_all(key)?;
            let tmp = self.tmp.as_mut().ok_or_else(|| std::io::Error::other("builder closed"))?;
            tmp.write_all(&spill)
        })();
        if let Err(e) = res {
            self.failed = true;
            return Err(Error::io(format!("writing index run {}", self.path.display()), e));
        }
        self.pos += (ENTRY_RECORD_HEADER_LEN + key.len()) as u64;
        self.count += 1;
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        Ok(())
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::InvalidArgument(format!(
                "index run builder for {} failed earlier and cannot continue",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Writes the offsets array, the hash table and the header, fsyncs the run file and
    /// removes the temporary file. Returns the run file's size in bytes.
    pub fn finish(mut self) -> Result<u64> {
        self.check_usable()?;
        let size = self.finish_inner()?;
        self.finished = true;
        let _ = std::fs::remove_file(&self.tmp_path);
        Ok(size)
    }

    fn finish_inner(&mut self) -> Result<u64> {
        let path = self.path.clone();
        let ctx = |what: &str| format!("{what} index run {}", path.display());
        let tmp_ctx = || format!("reading temporary offsets file {}", self.tmp_path.display());
        let too_large = || Error::InvalidArgument(format!("index run {} is too large", path.display()));

        let out = self.out.take().ok_or_else(|| Error::InvalidArgument("builder closed".into()))?;
        let mut file = out.into_inner().map_err(|e| Error::io(ctx("writing"), e.into_error()))?;
        let tmp = self.tmp.take().ok_or_else(|| Error::InvalidArgument("builder closed".into()))?;
        let mut tmp = tmp.into_inner().map_err(|e| Error::io(tmp_ctx(), e.into_error()))?;

        let count = self.count;
        let entries_end = self.pos;
        let offsets_offset = align_up(entries_end, OFFSETS_ALIGN).ok_or_else(too_large)?;
        let offsets_end = count.checked_mul(8).and_then(|n| offsets_offset.checked_add(n)).ok_or_else(too_large)?;
        let hash_offset = align_up(offsets_end, HASH_BLOCK_LEN as u64).ok_or_else(too_large)?;
        // Entry offsets fit a slot's 32 bits unless the entries region is over 4 GiB.
        let layout = if entries_end <= self.slot_offset_limit { self.layout } else { SlotLayout::Ordinal };
        let (slot_len, per_block) = (layout.slot_len(), layout.slots_per_block());
        let hash_blocks = layout.blocks_for(count);
        let hash_blocks_u32 = u32::try_from(hash_blocks).map_err(|_| too_large())?;
        let hash_len = hash_blocks.checked_mul(HASH_BLOCK_LEN as u64).ok_or_else(too_large)?;
        let file_size = hash_offset.checked_add(hash_len).ok_or_else(too_large)?;
        let slot_count = hash_blocks * per_block;

        // Reserve (and zero) everything after the entries: padding, offsets, hash table.
        preallocate(&file, entries_end, file_size - entries_end).map_err(|e| Error::io(ctx("preallocating"), e))?;
        let mut table = MappedFileMut::map(&file, hash_offset, hash_len)
            .map_err(|e| Error::io(ctx("mapping the hash table of"), e))?;
        table.fill(0);

        file.seek(SeekFrom::Start(offsets_offset)).map_err(|e| Error::io(ctx("seeking in"), e))?;
        tmp.seek(SeekFrom::Start(0)).map_err(|e| Error::io(tmp_ctx(), e))?;
        let mut reader = BufReader::with_capacity(IO_BUF_LEN, tmp);
        {
            let mut writer = BufWriter::with_capacity(IO_BUF_LEN, &mut file);
            let mut spill = [0u8; SPILL_LEN];
            for ordinal in 0..count {
                reader.read_exact(&mut spill).map_err(|e| Error::io(tmp_ctx(), e))?;
                writer.write_all(&spill[..8]).map_err(|e| Error::io(ctx("writing offsets of"), e))?;
                let hash = le_u64(&spill, 8);
                let fp = fingerprint(hash);
                let mut slot = hash % slot_count;
                // Load factor <= 0.5, so an empty slot is always found within slot_count probes.
                for _ in 0..slot_count {
                    let at = (slot / per_block) as usize * HASH_BLOCK_LEN + (slot % per_block) as usize * slot_len;
                    if le_u32(&table, at) == 0 {
                        table[at..at + 4].copy_from_slice(&fp.to_le_bytes());
                        let target = if layout == SlotLayout::Ordinal { ordinal } else { le_u64(&spill, 0) };
                        table[at + 4..at + 8].copy_from_slice(&(target as u32).to_le_bytes());
                        if layout == SlotLayout::OffsetHint {
                            table[at + 8..at + 16].copy_from_slice(&spill[16..24]);
                        }
                        break;
                    }
                    slot = (slot + 1) % slot_count;
                }
            }
            writer.flush().map_err(|e| Error::io(ctx("writing offsets of"), e))?;
        }
        for block in table.chunks_exact_mut(HASH_BLOCK_LEN) {
            let crc = crc32fast::hash(&block[..HASH_BLOCK_CRC_AT]);
            block[HASH_BLOCK_CRC_AT..HASH_BLOCK_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        }
        // Unmapped before the file's fsync below writes the table back: `msync` (or an
        // fsync while mapped) write-protects each dirty page still mapped writable, with a
        // TLB-flush interrupt per page to every CPU running this process — the connection
        // threads. Nothing reads the file before that fsync, so no order within it matters.
        drop(table);

        let header = Header {
            version: layout.version(),
            run_id: self.run_id,
            count,
            entries_offset: RUN_HEADER_LEN as u64,
            offsets_offset,
            hash_offset,
            hash_blocks: hash_blocks_u32,
        };
        write_at(&file, &header.encode(), 0).map_err(|e| Error::io(ctx("writing the header of"), e))?;
        file.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
        Ok(file_size)
    }
}

impl Drop for RunBuilder {
    fn drop(&mut self) {
        // Close the files (a BufWriter flushes on drop; errors do not matter here).
        self.out = None;
        self.tmp = None;
        let _ = std::fs::remove_file(&self.tmp_path);
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// An open, read-only mapped index run.
///
/// Opening checks only the header (O(1)); every entry and hash block is checked against its
/// CRC when it is read. [`Run::verify`] scrubs the whole file.
#[derive(Debug)]
pub struct Run {
    path: PathBuf,
    map: MappedFile,
    id: u64,
    count: u64,
    entries_offset: u64,
    offsets_offset: u64,
    hash_offset: u64,
    hash_blocks: u64,
    slot_count: u64,
    file_size: u64,
    /// One bit per hash block: set once the block's CRC has been verified. The mapping is
    /// read-only and the file immutable, so a block verified once is not checked again on
    /// every lookup (a 4 KiB CRC would otherwise dominate a point read).
    verified_blocks: Box<[AtomicU64]>,
    /// What a hash slot holds (by format version): the entry's ordinal (1), its file offset
    /// (2: one memory access fewer per point read than going through the offsets array), or
    /// its offset and a hint of the value's position (3: the value is prefetched while the
    /// entry is read).
    layout: SlotLayout,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Run>();
    assert_send_sync::<RunCursor>();
};

/// A verified entry read from the mapping.
#[derive(Debug, Clone, Copy)]
struct EntryRef {
    /// File offset of the entry record.
    offset: u64,
    key_start: usize,
    key_len: usize,
    entry: Entry,
}

impl Run {
    /// Opens and maps the run at `path`, checking its magic, version, header CRC and that the
    /// header's sections lie within the file and are mutually consistent. Does not read
    /// anything beyond the header.
    pub fn open(path: &Path) -> Result<Run> {
        let ctx = |what: &str| format!("{what} index run {}", path.display());
        let corrupt = |offset: u64, reason: &str| Error::corruption(path, offset, reason);
        let file = File::open(path).map_err(|e| Error::io(ctx("opening"), e))?;
        let file_size = file.metadata().map_err(|e| Error::io(ctx("reading metadata of"), e))?.len();
        if file_size < RUN_HEADER_LEN as u64 {
            return Err(corrupt(0, "file is shorter than the run header"));
        }
        let map = MappedFile::map(&file, file_size).map_err(|e| Error::io(ctx("mapping"), e))?;
        // Point reads touch a hash block, an offset and an entry at random places: without
        // this, each cold fault reads a whole readahead window (`read_ahead_kb`, often MiBs).
        map.advise_random();
        let h = map.get(..RUN_HEADER_LEN).ok_or_else(|| corrupt(0, "file is shorter than the run header"))?;
        if h[..8] != RUN_MAGIC {
            return Err(corrupt(0, "bad magic: not an index run file"));
        }
        let version = le_u32(h, HDR_VERSION_AT);
        let Some(layout) = SlotLayout::for_version(version) else {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: RUN_FORMAT_VERSION,
            });
        };
        if crc32fast::hash(&h[..HDR_CRC_AT]) != le_u32(h, HDR_CRC_AT) {
            return Err(corrupt(HDR_CRC_AT as u64, "header checksum mismatch"));
        }
        if le_u32(h, HDR_FLAGS_AT) != 0 {
            return Err(corrupt(HDR_FLAGS_AT as u64, "unknown header flags"));
        }
        let id = le_u64(h, HDR_RUN_ID_AT);
        let count = le_u64(h, HDR_COUNT_AT);
        let entries_offset = le_u64(h, HDR_ENTRIES_OFFSET_AT);
        let offsets_offset = le_u64(h, HDR_OFFSETS_OFFSET_AT);
        let hash_offset = le_u64(h, HDR_HASH_OFFSET_AT);
        let hash_blocks = le_u32(h, HDR_HASH_BLOCKS_AT) as u64;
        let bad = |at: usize, reason: &str| Err(corrupt(at as u64, reason));

        if count > MAX_RUN_ENTRIES {
            return bad(HDR_COUNT_AT, "entry count exceeds the per-run limit");
        }
        if entries_offset < RUN_HEADER_LEN as u64 || entries_offset > offsets_offset {
            return bad(HDR_ENTRIES_OFFSET_AT, "entries region out of place");
        }
        // Every entry record is at least ENTRY_RECORD_HEADER_LEN bytes.
        let min_entries_len = count.checked_mul(ENTRY_RECORD_HEADER_LEN as u64);
        if min_entries_len.is_none_or(|n| n > offsets_offset - entries_offset) {
            return bad(HDR_OFFSETS_OFFSET_AT, "entries region too small for the entry count");
        }
        let offsets_end = count.checked_mul(8).and_then(|n| offsets_offset.checked_add(n));
        if offsets_end.is_none_or(|end| end > hash_offset) {
            return bad(HDR_OFFSETS_OFFSET_AT, "offsets array overlaps the hash table");
        }
        if !hash_offset.is_multiple_of(HASH_BLOCK_LEN as u64) {
            return bad(HDR_HASH_OFFSET_AT, "hash table is not block-aligned");
        }
        if hash_blocks == 0 {
            return bad(HDR_HASH_BLOCKS_AT, "hash table has no blocks");
        }
        let slot_count = hash_blocks * layout.slots_per_block();
        if count.checked_mul(2).is_none_or(|n| n > slot_count) {
            return bad(HDR_HASH_BLOCKS_AT, "hash table too small for the entry count");
        }
        let hash_end = hash_offset.checked_add(hash_blocks * HASH_BLOCK_LEN as u64);
        match hash_end {
            Some(end) if end == file_size => {}
            Some(end) if end > file_size => {
                return Err(corrupt(file_size, "file is truncated (shorter than its header says)"));
            }
            _ => return Err(corrupt(file_size, "file is longer than its header says")),
        }
        Ok(Run {
            path: path.to_path_buf(),
            map,
            id,
            count,
            entries_offset,
            offsets_offset,
            hash_offset,
            hash_blocks,
            slot_count,
            file_size,
            verified_blocks: (0..hash_blocks.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            layout,
        })
    }

    /// The run id recorded in the header.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True if the run holds no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the run file in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// The path the run was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corruption(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::corruption(&self.path, offset, reason)
    }

    /// `len` bytes of the mapping at `offset`, or a corruption error if out of range.
    fn bytes(&self, offset: u64, len: u64) -> Result<&[u8]> {
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(start, len)| Some(start..start.checked_add(len)?));
        range
            .and_then(|r| self.map.get(r))
            .ok_or_else(|| self.corruption(offset, "structure extends beyond end of file"))
    }

    /// The entry record at file offset `offset` (a hash slot's target in version 2), verified
    /// against its CRC. `expect` is the entry's index when it is known (the offsets array
    /// path), checked against the record's ordinal.
    fn entry_at_offset(&self, offset: u64, expect: Option<u64>, from: u64) -> Result<EntryRef> {
        let entries_end = self.offsets_offset;
        // Only formatted on the error paths: a read must not allocate.
        let i = || expect.map_or_else(|| "at a hash slot's offset".to_string(), |i| i.to_string());
        if offset < self.entries_offset
            || offset.checked_add(ENTRY_RECORD_HEADER_LEN as u64).is_none_or(|e| e > entries_end)
        {
            return Err(self.corruption(from, format!("offset of entry {} out of range", i())));
        }
        let head = self.bytes(offset, ENTRY_RECORD_HEADER_LEN as u64)?;
        let key_len = le_u32(head, ENTRY_KEY_LEN_AT) as u64;
        if key_len > MAX_KEY_LEN as u64 || offset + ENTRY_RECORD_HEADER_LEN as u64 + key_len > entries_end {
            return Err(self.corruption(offset, format!("entry {} has a bad key length", i())));
        }
        let record = self.bytes(offset, ENTRY_RECORD_HEADER_LEN as u64 + key_len)?;
        let crc = le_u32(record, ENTRY_CRC_AT);
        if crc32fast::hash(&record[ENTRY_ORDINAL_AT..]) != crc {
            return Err(self.corruption(offset, format!("entry {} checksum mismatch", i())));
        }
        let ordinal = le_u32(record, ENTRY_ORDINAL_AT) as u64;
        if ordinal >= self.count || expect.is_some_and(|i| ordinal != i) {
            return Err(self.corruption(from, format!("slot for entry {} points at entry {ordinal}", i())));
        }
        let entry = Entry::decode(&record[ENTRY_BODY_AT..ENTRY_RECORD_HEADER_LEN])
            .map_err(|reason| self.corruption(offset + ENTRY_BODY_AT as u64, reason))?;
        Ok(EntryRef {
            offset,
            key_start: (offset as usize) + ENTRY_RECORD_HEADER_LEN,
            key_len: key_len as usize,
            entry,
        })
    }

    /// Reads and verifies entry `i` (which must be `< self.count`) through the offsets array.
    fn read_entry(&self, i: u64) -> Result<EntryRef> {
        if i >= self.count {
            return Err(Error::InvalidArgument(format!(
                "entry index {i} out of range for index run {} of {} entries",
                self.path.display(),
                self.count
            )));
        }
        let slot_at = self.offsets_offset + i * 8; // in range: checked at open
        let offset = le_u64(self.bytes(slot_at, 8)?, 0);
        self.entry_at_offset(offset, Some(i), slot_at)
    }

    fn key_of(&self, e: &EntryRef) -> &[u8] {
        // In range: read_entry checked it.
        self.map.get(e.key_start..e.key_start + e.key_len).unwrap_or_default()
    }

    /// The key and entry at index `i` in key order, verified against its CRC and ordinal.
    /// An index `>= len()` is an [`Error::InvalidArgument`].
    pub fn entry_at(&self, i: u64) -> Result<(&[u8], Entry)> {
        let e = self.read_entry(i)?;
        Ok((self.key_of(&e), e.entry))
    }

    /// Hash block `b`, with its CRC checked if `check` is set.
    fn hash_block(&self, b: u64, check: bool) -> Result<&[u8]> {
        let at = self.hash_offset + b * HASH_BLOCK_LEN as u64; // in range: checked at open
        let block = self.bytes(at, HASH_BLOCK_LEN as u64)?;
        if check {
            let (word, bit) = ((b / 64) as usize, 1u64 << (b % 64));
            let seen = self.verified_blocks.get(word).is_some_and(|w| w.load(Ordering::Relaxed) & bit != 0);
            if !seen {
                if crc32fast::hash(&block[..HASH_BLOCK_CRC_AT]) != le_u32(block, HASH_BLOCK_CRC_AT) {
                    return Err(self.corruption(at, format!("hash block {b} checksum mismatch")));
                }
                if let Some(w) = self.verified_blocks.get(word) {
                    w.fetch_or(bit, Ordering::Relaxed);
                }
            }
        }
        Ok(block)
    }

    /// Walks the probe sequence of `hash`, calling `visit(target, value_hint)` for every slot
    /// whose fingerprint matches until `visit` returns `Some` or an empty slot is reached.
    /// `target` is the entry's ordinal (version 1) or file offset; `value_hint` is the slot's
    /// hint (version 3) or [`NO_VALUE_HINT`].
    fn probe<T>(
        &self,
        hash: u64,
        check_blocks: bool,
        mut visit: impl FnMut(u64, u64) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        let fp = fingerprint(hash);
        let (per_block, slot_len) = (self.layout.slots_per_block(), self.layout.slot_len());
        let mut slot = hash % self.slot_count;
        let mut cached: Option<(u64, &[u8])> = None;
        for _ in 0..self.slot_count {
            let b = slot / per_block;
            let block = match cached {
                Some((cb, block)) if cb == b => block,
                _ => {
                    let block = self.hash_block(b, check_blocks)?;
                    cached = Some((b, block));
                    block
                }
            };
            let at = (slot % per_block) as usize * slot_len;
            let slot_fp = le_u32(block, at);
            if slot_fp == 0 {
                return Ok(None);
            }
            if slot_fp == fp {
                let target = le_u32(block, at + 4) as u64;
                let out_of_range = if self.layout == SlotLayout::Ordinal {
                    target >= self.count
                } else {
                    target < self.entries_offset || target >= self.offsets_offset
                };
                if out_of_range {
                    let off = self.hash_offset + b * HASH_BLOCK_LEN as u64 + at as u64;
                    return Err(self.corruption(off, "hash slot target out of range"));
                }
                let hint = if self.layout == SlotLayout::OffsetHint { le_u64(block, at + 8) } else { NO_VALUE_HINT };
                if let Some(found) = visit(target, hint)? {
                    return Ok(Some(found));
                }
            }
            slot = (slot + 1) % self.slot_count;
        }
        Err(self.corruption(self.hash_offset, "hash table has no empty slot"))
    }

    /// Looks `key` up through the hash table. Returns `Ok(None)` if the run has no entry for
    /// it. Hash blocks and entries are verified before they are trusted.
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.get_hashed(key, key_hash(key))
    }

    /// [`Run::get`] with the key's hash (`xxh3_64`, [`crate::memtable::key_hash`]) already
    /// computed.
    pub fn get_hashed(&self, key: &[u8], hash: u64) -> Result<Option<Entry>> {
        self.get_hashed_prefetch(key, hash, |_, _| {})
    }

    /// [`Run::get_hashed`] that calls `prefetch(segment, offset)` with a version 3 slot's
    /// value hint (where the candidate entry's value starts in the log) before it reads the
    /// entry, so the caller can start loading the value while the entry is fetched: the two
    /// cache misses overlap instead of following each other. The hint is unverified; only the
    /// entry returned (CRC-checked) says where the value is.
    pub fn get_hashed_prefetch(
        &self,
        key: &[u8],
        hash: u64,
        mut prefetch: impl FnMut(u32, u32),
    ) -> Result<Option<Entry>> {
        if key.len() > MAX_KEY_LEN {
            return Ok(None);
        }
        self.probe(hash, true, |target, hint| {
            if hint != NO_VALUE_HINT {
                prefetch((hint >> 32) as u32, hint as u32);
            }
            let e = if self.layout == SlotLayout::Ordinal {
                self.read_entry(target)?
            } else {
                self.entry_at_offset(target, None, self.hash_offset)?
            };
            Ok((self.key_of(&e) == key).then_some(e.entry))
        })
    }

    /// Starts loading the home slot of the key with `hash` into the cache (a hint for a batch
    /// of lookups, see [`crate::Store::prefetch_many`]; nothing is read or checked).
    pub fn prefetch_hashed(&self, hash: u64) {
        let per_block = self.layout.slots_per_block();
        let slot = hash % self.slot_count;
        let at = self.hash_offset
            + (slot / per_block) * HASH_BLOCK_LEN as u64
            + (slot % per_block) * self.layout.slot_len() as u64;
        if let Some(byte) = usize::try_from(at).ok().and_then(|at| self.map.get(at)) {
            crate::io::prefetch(byte);
        }
    }

    /// Index of the first entry whose key is `>= key` (`len()` if there is none), found by
    /// binary search over verified entries.
    pub fn lower_bound(&self, key: &[u8]) -> Result<u64> {
        let (mut lo, mut hi) = (0u64, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.read_entry(mid)?;
            if self.key_of(&e) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Scrubs the whole run: every entry (CRC, ordinal, contiguity, strictly increasing keys),
    /// the zero padding between sections, every hash block's CRC, and that the hash table
    /// holds exactly one slot per entry, reachable from the entry key's home slot.
    pub fn verify(&self) -> Result<()> {
        // Entries, in order.
        let mut expected_offset = self.entries_offset;
        let mut prev: Option<EntryRef> = None;
        for i in 0..self.count {
            let e = self.read_entry(i)?;
            if e.offset != expected_offset {
                return Err(self.corruption(e.offset, format!("entry {i} is not contiguous with its predecessor")));
            }
            if let Some(p) = &prev {
                if self.key_of(p) >= self.key_of(&e) {
                    return Err(self.corruption(e.offset, format!("entry {i} is out of key order")));
                }
            }
            expected_offset = e.offset + (ENTRY_RECORD_HEADER_LEN + e.key_len) as u64;
            prev = Some(e);
        }
        self.check_padding(expected_offset, self.offsets_offset, OFFSETS_ALIGN)?;
        let offsets_end = self.offsets_offset + self.count * 8;
        self.check_padding(offsets_end, self.hash_offset, HASH_BLOCK_LEN as u64)?;

        // Hash blocks: CRCs, trailing zeros, number of used slots.
        let mut used = 0u64;
        for b in 0..self.hash_blocks {
            let block = self.hash_block(b, true)?;
            if le_u32(block, HASH_BLOCK_CRC_AT + 4) != 0 {
                let at = self.hash_offset + b * HASH_BLOCK_LEN as u64 + HASH_BLOCK_CRC_AT as u64;
                return Err(self.corruption(at + 4, format!("hash block {b} has a nonzero tail")));
            }
            let slots = &block[..self.layout.slots_per_block() as usize * self.layout.slot_len()];
            if block[slots.len()..HASH_BLOCK_CRC_AT].iter().any(|&b| b != 0) {
                let at = self.hash_offset + b * HASH_BLOCK_LEN as u64 + slots.len() as u64;
                return Err(self.corruption(at, format!("hash block {b} has nonzero bytes after its slots")));
            }
            used += slots.chunks_exact(self.layout.slot_len()).filter(|s| le_u32(s, 0) != 0).count() as u64;
        }
        if used != self.count {
            return Err(
                self.corruption(self.hash_offset, format!("hash table holds {used} slots for {} entries", self.count))
            );
        }

        // Every entry reachable through the hash (blocks already verified above).
        for i in 0..self.count {
            let e = self.read_entry(i)?;
            let want = if self.layout == SlotLayout::Ordinal { i } else { e.offset };
            let want_hint = if self.layout == SlotLayout::OffsetHint { value_hint(&e.entry) } else { NO_VALUE_HINT };
            let found = self.probe(key_hash(self.key_of(&e)), false, |target, hint| {
                if target == want && hint != want_hint {
                    return Err(self.corruption(e.offset, format!("entry {i}'s hash slot has a wrong value hint")));
                }
                Ok((target == want).then_some(()))
            })?;
            if found.is_none() {
                return Err(self.corruption(e.offset, format!("entry {i} is not reachable through the hash table")));
            }
        }
        Ok(())
    }

    /// Checks that `start..end` is zero padding shorter than `align`.
    fn check_padding(&self, start: u64, end: u64, align: u64) -> Result<()> {
        if start > end || end - start >= align {
            return Err(self.corruption(start, "unexpected gap between sections"));
        }
        if self.bytes(start, end - start)?.iter().any(|&b| b != 0) {
            return Err(self.corruption(start, "nonzero padding between sections"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Cursor
// ---------------------------------------------------------------------------------------------

/// A bidirectional cursor over a run's entries in key order.
///
/// Owns an `Arc<Run>`, so it can outlive the borrow it was created from; keys it returns
/// borrow from the run's mapping. A new cursor is not positioned ([`RunCursor::valid`] is
/// false) until one of the seek methods is called. Moving past either end makes it invalid;
/// `next` and `prev` on an invalid cursor do nothing. If reading an entry fails, the cursor
/// becomes invalid and the error is returned.
#[derive(Debug, Clone)]
pub struct RunCursor {
    run: Arc<Run>,
    pos: u64,
    current: Option<EntryRef>,
}

impl RunCursor {
    /// A cursor over `run`, not yet positioned.
    pub fn new(run: Arc<Run>) -> RunCursor {
        let pos = run.len();
        RunCursor { run, pos, current: None }
    }

    /// The run this cursor reads.
    pub fn run(&self) -> &Arc<Run> {
        &self.run
    }

    fn load(&mut self, pos: u64) -> Result<()> {
        self.current = None;
        self.pos = pos;
        if pos >= self.run.len() {
            self.pos = self.run.len();
            return Ok(());
        }
        self.current = Some(self.run.read_entry(pos)?);
        Ok(())
    }

    /// Positions at the first entry whose key is `>= key` (invalid if there is none).
    pub fn seek(&mut self, key: &[u8]) -> Result<()> {
        self.current = None;
        let pos = self.run.lower_bound(key)?;
        self.load(pos)
    }

    /// Positions at the first entry (invalid if the run is empty).
    pub fn seek_to_first(&mut self) -> Result<()> {
        self.load(0)
    }

    /// Positions at the last entry (invalid if the run is empty).
    pub fn seek_to_last(&mut self) -> Result<()> {
        match self.run.len().checked_sub(1) {
            Some(last) => self.load(last),
            None => self.load(0),
        }
    }

    /// True if the cursor is positioned at an entry.
    pub fn valid(&self) -> bool {
        self.current.is_some()
    }

    /// Index (in key order) of the current entry, if valid.
    pub fn position(&self) -> Option<u64> {
        self.current.map(|_| self.pos)
    }

    /// The current key, if valid. Borrows from the run's mapping.
    pub fn key(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|e| self.run.key_of(e))
    }

    /// The current entry, if valid.
    pub fn entry(&self) -> Option<Entry> {
        self.current.map(|e| e.entry)
    }

    /// Moves to the next entry (invalid after the last one).
    // Not `Iterator::next`: a cursor step is fallible and bidirectional (see `prev`).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        self.load(self.pos + 1)
    }

    /// Moves to the previous entry (invalid before the first one).
    pub fn prev(&mut self) -> Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        match self.pos.checked_sub(1) {
            Some(p) => self.load(p),
            None => self.load(self.run.len()),
        }
    }
}

/// File name of index run `id` in a store directory.
pub fn run_file_name(id: u64) -> String {
    format!("run-{id:016x}.pkr")
}

/// Parses a run file name back into its id.
pub fn parse_run_file_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix("run-")?.strip_suffix(".pkr")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::ValueLoc;
    use std::collections::BTreeMap;

    /// splitmix64: a small deterministic PRNG for the tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn key(&mut self) -> Vec<u8> {
            let len = match self.below(10) {
                0 => self.below(4),
                1..=7 => 4 + self.below(20),
                8 => 24 + self.below(100),
                _ => 124 + self.below(400),
            } as usize;
            // A small alphabet makes shared prefixes (and prefix keys) common.
            (0..len).map(|_| b"abcxyz\0\xff"[self.below(8) as usize]).collect()
        }

        fn entry(&mut self) -> Entry {
            let value = match self.below(3) {
                0 => None,
                1 => Some(ValueLoc::Inline {
                    segment: self.next() as u32,
                    offset: self.next() as u32,
                    len: self.next() as u32,
                    crc: self.next() as u32,
                }),
                _ => Some(ValueLoc::Blob { id: self.next(), len: self.next() }),
            };
            let expire_at_ms = if self.below(2) == 0 { 0 } else { self.next() };
            Entry { version: self.next(), expire_at_ms, value }
        }
    }

    fn random_entries(rng: &mut Rng, n: usize) -> Vec<(Vec<u8>, Entry)> {
        let mut map = BTreeMap::new();
        if n > 0 {
            map.insert(Vec::new(), rng.entry());
        }
        while map.len() < n {
            map.insert(rng.key(), rng.entry());
        }
        map.into_iter().collect()
    }

    fn build(path: &Path, id: u64, entries: &[(Vec<u8>, Entry)]) -> u64 {
        build_tweaked(path, id, entries, |_| {})
    }

    /// [`build`] with the builder adjusted first (to write an older format version).
    fn build_tweaked(path: &Path, id: u64, entries: &[(Vec<u8>, Entry)], tweak: impl FnOnce(&mut RunBuilder)) -> u64 {
        let mut b = RunBuilder::create(path, id).unwrap();
        tweak(&mut b);
        for (k, e) in entries {
            b.add(k, e).unwrap();
        }
        assert_eq!(b.len(), entries.len() as u64);
        b.finish().unwrap()
    }

    /// Builds a run of `n` random entries with the builder set up by `tweak` to write an
    /// older format, checks the header says `version`, and opens and verifies it.
    fn old_format_run(
        path: &Path,
        seed: u64,
        n: usize,
        version: u32,
        tweak: impl FnOnce(&mut RunBuilder),
    ) -> (Vec<(Vec<u8>, Entry)>, Run) {
        let entries = random_entries(&mut Rng(seed), n);
        build_tweaked(path, 5, &entries, tweak);
        assert_eq!(le_u32(&std::fs::read(path).unwrap(), HDR_VERSION_AT), version);
        let run = Run::open(path).unwrap();
        run.verify().unwrap();
        (entries, run)
    }

    fn tmp_path_of(path: &Path) -> PathBuf {
        let mut name = path.file_name().unwrap().to_os_string();
        name.push(OFFSETS_TMP_SUFFIX);
        path.with_file_name(name)
    }

    fn check_run(run: &Arc<Run>, entries: &[(Vec<u8>, Entry)], rng: &mut Rng) {
        assert_eq!(run.len(), entries.len() as u64);
        assert_eq!(run.is_empty(), entries.is_empty());
        for (i, (k, e)) in entries.iter().enumerate() {
            assert_eq!(run.get(k).unwrap(), Some(*e), "get of key {i}");
            let (rk, re) = run.entry_at(i as u64).unwrap();
            assert_eq!((rk, re), (k.as_slice(), *e));
        }
        assert!(matches!(run.entry_at(entries.len() as u64), Err(Error::InvalidArgument(_))));
        let present: BTreeMap<&[u8], Entry> = entries.iter().map(|(k, e)| (k.as_slice(), *e)).collect();
        for _ in 0..2000 {
            let k = rng.key();
            let expect = present.get(k.as_slice()).copied();
            assert_eq!(run.get(&k).unwrap(), expect);
            let lb = entries.partition_point(|(x, _)| x.as_slice() < k.as_slice()) as u64;
            assert_eq!(run.lower_bound(&k).unwrap(), lb);
        }
        assert_eq!(run.get(&vec![b'a'; MAX_KEY_LEN + 1]).unwrap(), None);
        assert_eq!(run.lower_bound(b"").unwrap(), 0);
        assert_eq!(run.lower_bound(&[0xff; 600]).unwrap(), entries.len() as u64);

        // Forward and backward iteration.
        let mut c = RunCursor::new(run.clone());
        assert!(!c.valid());
        c.seek_to_first().unwrap();
        for (i, (k, e)) in entries.iter().enumerate() {
            assert!(c.valid());
            assert_eq!(c.position(), Some(i as u64));
            assert_eq!(c.key(), Some(k.as_slice()));
            assert_eq!(c.entry(), Some(*e));
            c.next().unwrap();
        }
        assert!(!c.valid());
        assert_eq!(c.key(), None);
        c.next().unwrap();
        assert!(!c.valid());
        c.seek_to_last().unwrap();
        for (k, e) in entries.iter().rev() {
            assert_eq!(c.key(), Some(k.as_slice()));
            assert_eq!(c.entry(), Some(*e));
            c.prev().unwrap();
        }
        assert!(!c.valid());
        c.prev().unwrap();
        assert!(!c.valid());
        // Seeks, then a step either way.
        for _ in 0..200 {
            let k = rng.key();
            let lb = entries.partition_point(|(x, _)| x.as_slice() < k.as_slice());
            c.seek(&k).unwrap();
            assert_eq!(c.key(), entries.get(lb).map(|(k, _)| k.as_slice()));
            if c.valid() {
                c.prev().unwrap();
                assert_eq!(c.key(), lb.checked_sub(1).map(|p| entries[p].0.as_slice()));
            }
        }
        run.verify().unwrap();
    }

    #[test]
    fn build_and_read_various_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng(1);
        for (n, id) in [(0usize, 10u64), (1, 11), (50_000, 12)] {
            let entries = random_entries(&mut rng, n);
            let path = dir.path().join(format!("run-{id}.pkr"));
            let size = build(&path, id, &entries);
            assert!(!tmp_path_of(&path).exists());
            assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
            let run = Arc::new(Run::open(&path).unwrap());
            assert_eq!(run.id(), id);
            assert_eq!(run.file_size(), size);
            assert_eq!(run.path(), path);
            check_run(&run, &entries, &mut rng);
        }
    }

    #[test]
    fn cursor_outlives_borrow_and_crosses_threads() {
        let dir = tempfile::tempdir().unwrap();
        let entries = random_entries(&mut Rng(2), 100);
        let path = dir.path().join("r");
        build(&path, 1, &entries);
        let run = Arc::new(Run::open(&path).unwrap());
        let mut c = RunCursor::new(run.clone());
        drop(run);
        let n = std::thread::spawn(move || {
            c.seek_to_first().unwrap();
            let mut n = 0;
            while c.valid() {
                n += 1;
                c.next().unwrap();
            }
            n
        })
        .join()
        .unwrap();
        assert_eq!(n, 100);
    }

    #[test]
    fn builder_rejects_bad_input_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let e = Entry { version: 1, expire_at_ms: 0, value: None };
        let mut b = RunBuilder::create(&path, 1).unwrap();
        assert!(tmp_path_of(&path).exists());
        assert!(RunBuilder::create(&path, 2).is_err(), "create_new");
        b.add(b"", &e).unwrap();
        b.add(b"b", &e).unwrap();
        assert!(matches!(b.add(b"b", &e), Err(Error::InvalidArgument(_))));
        assert!(matches!(b.add(b"a", &e), Err(Error::InvalidArgument(_))));
        assert!(matches!(b.add(b"", &e), Err(Error::InvalidArgument(_))));
        assert!(matches!(b.add(&vec![b'z'; MAX_KEY_LEN + 1], &e), Err(Error::KeyTooLarge { .. })));
        b.add(&vec![b'c'; MAX_KEY_LEN], &e).unwrap();
        b.add(b"d", &e).unwrap();
        b.finish().unwrap();
        let run = Run::open(&path).unwrap();
        assert_eq!(run.len(), 4);
        assert_eq!(run.get(&vec![b'c'; MAX_KEY_LEN]).unwrap(), Some(e));
        run.verify().unwrap();

        // An abandoned builder removes its files.
        let path2 = dir.path().join("r2");
        let mut b = RunBuilder::create(&path2, 1).unwrap();
        b.add(b"x", &e).unwrap();
        drop(b);
        assert!(!path2.exists());
        assert!(!tmp_path_of(&path2).exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|d| d.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("r")]);
    }

    fn rewrite_header(bytes: &mut [u8], f: impl FnOnce(&mut [u8])) {
        f(&mut bytes[..RUN_HEADER_LEN]);
        let crc = crc32fast::hash(&bytes[..HDR_CRC_AT]);
        bytes[HDR_CRC_AT..HDR_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn open_rejects_bad_headers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        build(&path, 7, &random_entries(&mut Rng(3), 100));
        let good = std::fs::read(&path).unwrap();
        let bad = dir.path().join("bad");
        let open_with = |bytes: &[u8]| {
            std::fs::write(&bad, bytes).unwrap();
            Run::open(&bad)
        };
        assert!(open_with(&good).is_ok());

        let mut b = good.clone();
        b[0] = b'X';
        assert!(open_with(&b).unwrap_err().is_corruption());

        let mut b = good.clone();
        rewrite_header(&mut b, |h| h[HDR_VERSION_AT..HDR_VERSION_AT + 4].copy_from_slice(&4u32.to_le_bytes()));
        assert!(matches!(
            open_with(&b),
            Err(Error::UnsupportedVersion { found: 4, supported: RUN_FORMAT_VERSION, .. })
        ));

        let mut b = good.clone();
        b[HDR_COUNT_AT] ^= 1;
        assert!(open_with(&b).unwrap_err().is_corruption());
        let mut b = good.clone();
        b[HDR_CRC_AT] ^= 0x80;
        assert!(open_with(&b).unwrap_err().is_corruption());

        // Consistent CRC but inconsistent fields.
        let fields: [(usize, u64); 6] = [
            (HDR_COUNT_AT, u64::MAX),
            (HDR_COUNT_AT, 1 << 40),
            (HDR_ENTRIES_OFFSET_AT, 8),
            (HDR_OFFSETS_OFFSET_AT, u64::MAX - 3),
            (HDR_HASH_OFFSET_AT, 4096 * 1000),
            (HDR_HASH_OFFSET_AT, 4095),
        ];
        for (at, v) in fields {
            let mut b = good.clone();
            rewrite_header(&mut b, |h| h[at..at + 8].copy_from_slice(&v.to_le_bytes()));
            assert!(open_with(&b).unwrap_err().is_corruption(), "field at {at} = {v}");
        }
        for blocks in [0u32, 1000, u32::MAX] {
            let mut b = good.clone();
            rewrite_header(&mut b, |h| {
                h[HDR_HASH_BLOCKS_AT..HDR_HASH_BLOCKS_AT + 4].copy_from_slice(&blocks.to_le_bytes())
            });
            assert!(open_with(&b).unwrap_err().is_corruption(), "blocks = {blocks}");
        }
        let mut b = good.clone();
        rewrite_header(&mut b, |h| h[HDR_FLAGS_AT] = 1);
        assert!(open_with(&b).unwrap_err().is_corruption());

        assert!(open_with(&good[..40]).unwrap_err().is_corruption());
        assert!(open_with(&good[..good.len() - 1]).unwrap_err().is_corruption());
        let mut longer = good.clone();
        longer.push(0);
        assert!(open_with(&longer).unwrap_err().is_corruption());
        assert!(open_with(&[]).unwrap_err().is_corruption());
    }

    /// Copies the run at `path` to `bad` with offsets-array slot 3 pointing at entry 4 (a
    /// perfectly valid entry, with the wrong ordinal), and opens the copy.
    fn redirect_slot_3_to_entry_4(path: &Path, bad: &Path) -> Run {
        let mut bytes = std::fs::read(path).unwrap();
        let offsets_offset = le_u64(&bytes, HDR_OFFSETS_OFFSET_AT) as usize;
        let four = bytes[offsets_offset + 32..offsets_offset + 40].to_vec();
        bytes[offsets_offset + 24..offsets_offset + 32].copy_from_slice(&four);
        std::fs::write(bad, &bytes).unwrap();
        Run::open(bad).unwrap()
    }

    #[test]
    fn redirected_offset_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let entries = random_entries(&mut Rng(4), 50);
        build(&path, 1, &entries);
        let run = redirect_slot_3_to_entry_4(&path, &dir.path().join("bad"));
        let err = run.entry_at(3).unwrap_err();
        assert!(err.is_corruption(), "{err}");
        // Point reads go through the hash table's file offsets, not the offsets array.
        assert_eq!(run.get(&entries[3].0).unwrap(), Some(entries[3].1));
        assert_eq!(run.get(&entries[4].0).unwrap(), Some(entries[4].1));
        assert!(run.verify().unwrap_err().is_corruption());
        let mut c = RunCursor::new(Arc::new(run));
        c.seek_to_first().unwrap();
        c.next().unwrap();
        c.next().unwrap();
        assert!(c.next().unwrap_err().is_corruption());
        assert!(!c.valid());
    }

    /// Runs written in format version 1 (hash slots hold ordinals, as the builder still writes
    /// for entries regions over 4 GiB) read back exactly, and a redirected offsets-array slot
    /// is caught on the point-read path too.
    #[test]
    fn version_1_runs_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let (entries, run) = old_format_run(&path, 11, 300, RUN_FORMAT_V1, |b| b.slot_offset_limit = 0);
        for (k, e) in &entries {
            assert_eq!(run.get(k).unwrap(), Some(*e));
        }
        assert_eq!(run.get(b"definitely-not-a-key").unwrap(), None);

        let run = redirect_slot_3_to_entry_4(&path, &dir.path().join("bad"));
        assert!(run.get(&entries[3].0).unwrap_err().is_corruption());
        assert_eq!(run.get(&entries[4].0).unwrap(), Some(entries[4].1));
    }

    /// Runs written in format version 2 (8-byte slots with the entry's offset, no value hint)
    /// read back exactly.
    #[test]
    fn version_2_runs_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let (entries, run) = old_format_run(&path, 12, 700, RUN_FORMAT_V2, |b| b.layout = SlotLayout::Offset);
        for (k, e) in &entries {
            let mut hinted = false;
            assert_eq!(run.get_hashed_prefetch(k, key_hash(k), |_, _| hinted = true).unwrap(), Some(*e));
            assert!(!hinted, "version 2 slots carry no value hint");
        }
        assert_eq!(run.get(b"definitely-not-a-key").unwrap(), None);
    }

    /// A version 3 slot hands the entry's value position to the prefetch callback before the
    /// entry is read; a wrong hint changes nothing a read returns, and `verify` reports it.
    #[test]
    fn version_3_slots_hint_the_value_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let entries = random_entries(&mut Rng(13), 600);
        build(&path, 5, &entries);
        let run = Run::open(&path).unwrap();
        assert_eq!(run.layout, SlotLayout::OffsetHint);
        let mut inline = 0;
        for (k, e) in &entries {
            let mut hints = Vec::new();
            assert_eq!(run.get_hashed_prefetch(k, key_hash(k), |seg, off| hints.push((seg, off))).unwrap(), Some(*e));
            match e.value {
                Some(ValueLoc::Inline { segment, offset, .. }) => {
                    inline += 1;
                    assert_eq!(hints.last(), Some(&(segment, offset)));
                }
                _ => assert!(!hints.contains(&(u32::MAX, u32::MAX))),
            }
        }
        assert!(inline > 0);

        // Damage one inline entry's hint (and re-seal its block's CRC).
        let (k, e) = entries.iter().find(|(_, e)| matches!(e.value, Some(ValueLoc::Inline { .. }))).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let hash_offset = le_u64(&bytes, HDR_HASH_OFFSET_AT) as usize;
        let want = value_hint(e);
        let table = &bytes[hash_offset..];
        let at = (0..table.len() / HASH_BLOCK_LEN)
            .flat_map(|b| (0..HASH_SLOTS_PER_BLOCK_V3).map(move |s| b * HASH_BLOCK_LEN + s * HASH_SLOT_LEN_V3))
            .find(|&at| le_u64(table, at + 8) == want && le_u32(table, at) != 0)
            .unwrap();
        let block = at / HASH_BLOCK_LEN * HASH_BLOCK_LEN;
        let bytes_at = hash_offset + at + 8;
        bytes[bytes_at..bytes_at + 8].copy_from_slice(&(want ^ 0x10).to_le_bytes());
        let blk = hash_offset + block;
        let crc = crc32fast::hash(&bytes[blk..blk + HASH_BLOCK_CRC_AT]);
        bytes[blk + HASH_BLOCK_CRC_AT..blk + HASH_BLOCK_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        let bad = dir.path().join("bad");
        std::fs::write(&bad, &bytes).unwrap();
        let run = Run::open(&bad).unwrap();
        assert_eq!(run.get(k).unwrap(), Some(*e), "the hint is only a hint");
        assert!(run.verify().unwrap_err().is_corruption());
    }

    /// Every read of a damaged run either fails with `Corruption` or returns the right data.
    fn check_damaged(run: Run, entries: &[(Vec<u8>, Entry)], probes: &[Vec<u8>]) {
        let ok_or_corrupt = |r: &Result<()>| {
            if let Err(e) = r {
                assert!(e.is_corruption(), "unexpected error {e}");
            }
        };
        let verified = run.verify();
        ok_or_corrupt(&verified);
        let mut any_err = false;
        for (k, e) in entries {
            match run.get(k) {
                Ok(got) => assert_eq!(got, Some(*e)),
                Err(err) => {
                    assert!(err.is_corruption(), "{err}");
                    any_err = true;
                }
            }
        }
        for k in probes {
            match run.get(k) {
                Ok(got) => assert_eq!(got, None),
                Err(err) => {
                    assert!(err.is_corruption(), "{err}");
                    any_err = true;
                }
            }
            match run.lower_bound(k) {
                Ok(lb) => assert_eq!(lb as usize, entries.partition_point(|(x, _)| x < k)),
                Err(err) => {
                    assert!(err.is_corruption(), "{err}");
                    any_err = true;
                }
            }
        }
        let mut c = RunCursor::new(Arc::new(run));
        let mut walk = |backward: bool| -> Result<()> {
            if backward {
                c.seek_to_last()?;
            } else {
                c.seek_to_first()?;
            }
            let mut seen = 0;
            while c.valid() {
                let i = if backward { entries.len() - 1 - seen } else { seen };
                assert_eq!(c.position(), Some(i as u64));
                assert_eq!(c.key(), Some(entries[i].0.as_slice()));
                assert_eq!(c.entry(), Some(entries[i].1));
                seen += 1;
                if backward {
                    c.prev()?;
                } else {
                    c.next()?;
                }
            }
            assert_eq!(seen, entries.len());
            Ok(())
        };
        for backward in [false, true] {
            let r = walk(backward);
            ok_or_corrupt(&r);
            any_err |= r.is_err();
        }
        if verified.is_ok() {
            assert!(!any_err, "verify passed but a read failed");
        }
    }

    #[test]
    fn random_corruption_never_yields_wrong_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let mut rng = Rng(5);
        let entries = random_entries(&mut rng, 300);
        build(&path, 9, &entries);
        let good = std::fs::read(&path).unwrap();
        let probes: Vec<Vec<u8>> =
            (0..30).map(|_| rng.key()).filter(|k| entries.binary_search_by(|(x, _)| x.cmp(k)).is_err()).collect();
        let bad = dir.path().join("bad");
        let mut opened = 0;
        for iter in 0..600 {
            let mut bytes = good.clone();
            if iter % 5 == 4 {
                bytes.truncate(rng.below(good.len() as u64) as usize);
            } else {
                for _ in 0..1 + rng.below(3) {
                    // Half the flips land in the header, offsets or hash table, which are small.
                    let at = if rng.below(2) == 0 {
                        rng.below(good.len() as u64) as usize
                    } else {
                        let start = [0, le_u64(&good, HDR_OFFSETS_OFFSET_AT), le_u64(&good, HDR_HASH_OFFSET_AT)];
                        let s = start[rng.below(3) as usize];
                        (s + rng.below(4096)).min(good.len() as u64 - 1) as usize
                    };
                    bytes[at] ^= 1 + rng.below(255) as u8;
                }
            }
            std::fs::write(&bad, &bytes).unwrap();
            match Run::open(&bad) {
                Ok(run) => {
                    opened += 1;
                    check_damaged(run, &entries, &probes);
                }
                Err(e) => assert!(e.is_corruption() || matches!(e, Error::UnsupportedVersion { .. }), "{e}"),
            }
        }
        assert!(opened > 100, "only {opened} damaged runs opened");
    }
}
