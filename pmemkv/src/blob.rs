//! Blob files: large values written and read as a stream, checksummed in chunks.
//!
//! A value too large for a log segment (model weights, many GiB) lives in its own immutable
//! file `blob-<id:016x>.pkb` in the store directory. [`BlobWriter`] writes it streaming,
//! holding at most one chunk in memory (plus the CRC table, 4 bytes per chunk: 16 KiB for a
//! 4 GiB value in 1 MiB chunks); [`BlobFile`] maps it read-only and hands out the value
//! zero-copy, verifying each chunk's CRC before its bytes are used; [`BlobReader`] adapts a
//! [`BlobFile`] to [`std::io::Read`] + [`std::io::Seek`]. This module knows nothing about
//! keys: the index points a key at a blob with [`crate::entry::ValueLoc::Blob`] once
//! [`BlobWriter::finish`] has returned.
//!
//! # On-disk format (version 1)
//!
//! All integers are little-endian. CRCs are CRC32 (IEEE, as computed by `crc32fast`).
//!
//! ```text
//! offset                     size        field
//! ------------------------------------------------------------------------------------
//! 0                          64          header
//!   0                        8             magic b"PMKVBLOB"
//!   8                        4             format version u32 (= 1)
//!   12                       4             chunk size u32 (power of two, 4 KiB ..= 64 MiB)
//!   16                       8             blob id u64 (equals the id in the file name)
//!   24                       36            zero padding
//!   60                       4             CRC32 of header bytes 0..60
//! 64                         len         data: the value bytes, contiguous
//! 64 + len                   4 * count   CRC table: CRC32 of each chunk of `chunk size`
//!                                        data bytes, in order (the last chunk may be
//!                                        short); count = ceil(len / chunk size)
//! 64 + len + 4 * count       32          footer
//!   0                        8             magic b"PMKVBEND"
//!   8                        8             data length `len` u64
//!   16                       8             chunk count `count` u64
//!   24                       4             CRC32 of the CRC table
//!   28                       4             CRC32 of footer bytes 0..28
//! ```
//!
//! The file is exactly `64 + len + 4 * count + 32` bytes long; the footer is its last 32
//! bytes. The data length lives only in the footer (the header is written before the length
//! is known). A value of length 0 has no chunks and an empty CRC table (whose CRC is 0).
//!
//! # Crash consistency
//!
//! The header is written at creation. [`BlobWriter::finish`] writes the last (partial) chunk
//! and the CRC table, truncates the file to its exact final length, fsyncs it, and only then
//! writes the footer, fsyncs again and fsyncs the directory. A valid footer is therefore the
//! commit point: it is never durable unless all data, the table and the final file length
//! are. A file without a valid footer is an *incomplete* blob left by a crash during writing;
//! [`remove_incomplete_blobs`] deletes those at recovery.
//!
//! Because the index only learns of a blob after `finish` returned, a blob file the index
//! does not reference (even a complete one, e.g. finished just before a crash but never
//! recorded) is garbage that the engine's recovery should delete as well.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::{preallocate, read_at, sync_dir, write_at, MappedFile};

/// Magic bytes at offset 0 of every blob file.
pub const BLOB_MAGIC: [u8; 8] = *b"PMKVBLOB";
/// Magic bytes at the start of the footer (the last 32 bytes of a complete blob file).
pub const BLOB_FOOTER_MAGIC: [u8; 8] = *b"PMKVBEND";
/// The blob format version this build writes and reads.
pub const BLOB_FORMAT_VERSION: u32 = 1;

/// Length of the header; the data starts at this offset.
pub const BLOB_HEADER_LEN: usize = 64;
/// Offset of the format version (u32) in the header.
pub const BLOB_HEADER_VERSION_OFFSET: usize = 8;
/// Offset of the chunk size (u32) in the header.
pub const BLOB_HEADER_CHUNK_SIZE_OFFSET: usize = 12;
/// Offset of the blob id (u64) in the header.
pub const BLOB_HEADER_ID_OFFSET: usize = 16;
/// Offset of the header CRC (u32, CRC32 of header bytes `0..BLOB_HEADER_CRC_OFFSET`).
/// Bytes 24 up to this offset are zero padding.
pub const BLOB_HEADER_CRC_OFFSET: usize = 60;

/// Length of one CRC table entry (a u32 CRC32 per chunk).
pub const BLOB_CRC_ENTRY_LEN: usize = 4;

/// Length of the footer, the last bytes of a complete blob file.
pub const BLOB_FOOTER_LEN: usize = 32;
/// Offset of the data length (u64) in the footer.
pub const BLOB_FOOTER_LEN_OFFSET: usize = 8;
/// Offset of the chunk count (u64) in the footer.
pub const BLOB_FOOTER_CHUNK_COUNT_OFFSET: usize = 16;
/// Offset of the CRC32 of the CRC table (u32) in the footer.
pub const BLOB_FOOTER_TABLE_CRC_OFFSET: usize = 24;
/// Offset of the footer CRC (u32, CRC32 of footer bytes `0..BLOB_FOOTER_CRC_OFFSET`).
pub const BLOB_FOOTER_CRC_OFFSET: usize = 28;

/// Default chunk size: 1 MiB.
pub const DEFAULT_BLOB_CHUNK_SIZE: u32 = 1 << 20;
/// Smallest allowed chunk size: 4 KiB.
pub const MIN_BLOB_CHUNK_SIZE: u32 = 4 << 10;
/// Largest allowed chunk size: 64 MiB.
pub const MAX_BLOB_CHUNK_SIZE: u32 = 64 << 20;

/// The writer preallocates file space ahead of the data in steps of (at most) this many
/// bytes, so that a full disk is reported by the writer rather than seen by a reader.
pub const BLOB_PREALLOC_STEP: u64 = 64 << 20;

/// Blob file names are `BLOB_FILE_PREFIX` + 16 lowercase hex digits + `BLOB_FILE_SUFFIX`.
pub const BLOB_FILE_PREFIX: &str = "blob-";
/// See [`BLOB_FILE_PREFIX`].
pub const BLOB_FILE_SUFFIX: &str = ".pkb";

/// Largest number of bytes the writer hands to one `pwrite` when writing whole chunks
/// straight from the caller's buffer (rounded down to whole chunks, at least one chunk).
const WRITE_BATCH: usize = 8 << 20;

/// Minimum length of a complete blob file (empty value: header + footer).
const MIN_COMPLETE_LEN: u64 = (BLOB_HEADER_LEN + BLOB_FOOTER_LEN) as u64;

/// The file name of blob `id`: `blob-<id as 16 lowercase hex digits>.pkb`.
pub fn blob_file_name(id: u64) -> String {
    format!("{BLOB_FILE_PREFIX}{id:016x}{BLOB_FILE_SUFFIX}")
}

/// Parses a name produced by [`blob_file_name`] back into the blob id. Returns `None` for
/// anything else (including upper-case hex or a wrong number of digits), so that
/// `blob_file_name(parse_blob_file_name(n)?) == n`.
pub fn parse_blob_file_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix(BLOB_FILE_PREFIX)?.strip_suffix(BLOB_FILE_SUFFIX)?;
    if hex.len() != 16 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn validate_chunk_size(chunk_size: u32) -> bool {
    chunk_size.is_power_of_two() && (MIN_BLOB_CHUNK_SIZE..=MAX_BLOB_CHUNK_SIZE).contains(&chunk_size)
}

fn get_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(a)
}

fn get_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(a)
}

fn encode_header(id: u64, chunk_size: u32) -> [u8; BLOB_HEADER_LEN] {
    let mut h = [0u8; BLOB_HEADER_LEN];
    h[..8].copy_from_slice(&BLOB_MAGIC);
    h[BLOB_HEADER_VERSION_OFFSET..BLOB_HEADER_VERSION_OFFSET + 4].copy_from_slice(&BLOB_FORMAT_VERSION.to_le_bytes());
    h[BLOB_HEADER_CHUNK_SIZE_OFFSET..BLOB_HEADER_CHUNK_SIZE_OFFSET + 4].copy_from_slice(&chunk_size.to_le_bytes());
    h[BLOB_HEADER_ID_OFFSET..BLOB_HEADER_ID_OFFSET + 8].copy_from_slice(&id.to_le_bytes());
    let crc = crc32fast::hash(&h[..BLOB_HEADER_CRC_OFFSET]);
    h[BLOB_HEADER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    h
}

fn encode_footer(len: u64, chunk_count: u64, table_crc: u32) -> [u8; BLOB_FOOTER_LEN] {
    let mut f = [0u8; BLOB_FOOTER_LEN];
    f[..8].copy_from_slice(&BLOB_FOOTER_MAGIC);
    f[BLOB_FOOTER_LEN_OFFSET..BLOB_FOOTER_LEN_OFFSET + 8].copy_from_slice(&len.to_le_bytes());
    f[BLOB_FOOTER_CHUNK_COUNT_OFFSET..BLOB_FOOTER_CHUNK_COUNT_OFFSET + 8].copy_from_slice(&chunk_count.to_le_bytes());
    f[BLOB_FOOTER_TABLE_CRC_OFFSET..BLOB_FOOTER_TABLE_CRC_OFFSET + 4].copy_from_slice(&table_crc.to_le_bytes());
    let crc = crc32fast::hash(&f[..BLOB_FOOTER_CRC_OFFSET]);
    f[BLOB_FOOTER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    f
}

/// Checks a header (magic, version, CRC, chunk size, id) and returns the chunk size.
fn check_header(h: &[u8], path: &Path, expected_id: u64) -> Result<u32> {
    if h[..8] != BLOB_MAGIC {
        return Err(Error::corruption(path, 0, "bad blob header magic"));
    }
    let version = get_u32(h, BLOB_HEADER_VERSION_OFFSET);
    if version != BLOB_FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: BLOB_FORMAT_VERSION,
        });
    }
    let stored = get_u32(h, BLOB_HEADER_CRC_OFFSET);
    let computed = crc32fast::hash(&h[..BLOB_HEADER_CRC_OFFSET]);
    if stored != computed {
        return Err(Error::corruption(
            path,
            0,
            format!("blob header CRC mismatch: stored {stored:08x}, computed {computed:08x}"),
        ));
    }
    let chunk_size = get_u32(h, BLOB_HEADER_CHUNK_SIZE_OFFSET);
    if !validate_chunk_size(chunk_size) {
        return Err(Error::corruption(
            path,
            BLOB_HEADER_CHUNK_SIZE_OFFSET as u64,
            format!("invalid blob chunk size {chunk_size}"),
        ));
    }
    let id = get_u64(h, BLOB_HEADER_ID_OFFSET);
    if id != expected_id {
        return Err(Error::corruption(
            path,
            BLOB_HEADER_ID_OFFSET as u64,
            format!("blob header names id {id:016x}, expected {expected_id:016x}"),
        ));
    }
    Ok(chunk_size)
}

/// Checks a footer's magic and CRC; returns `(data length, chunk count, table CRC)`.
fn check_footer(f: &[u8], path: &Path, offset: u64) -> Result<(u64, u64, u32)> {
    if f[..8] != BLOB_FOOTER_MAGIC {
        return Err(Error::corruption(path, offset, "missing or bad blob footer magic (incomplete blob?)"));
    }
    let stored = get_u32(f, BLOB_FOOTER_CRC_OFFSET);
    let computed = crc32fast::hash(&f[..BLOB_FOOTER_CRC_OFFSET]);
    if stored != computed {
        return Err(Error::corruption(
            path,
            offset,
            format!("blob footer CRC mismatch: stored {stored:08x}, computed {computed:08x}"),
        ));
    }
    Ok((
        get_u64(f, BLOB_FOOTER_LEN_OFFSET),
        get_u64(f, BLOB_FOOTER_CHUNK_COUNT_OFFSET),
        get_u32(f, BLOB_FOOTER_TABLE_CRC_OFFSET),
    ))
}

/// Total file length of a complete blob with `len` data bytes in `chunk_count` chunks, or
/// `None` on overflow.
fn complete_file_len(len: u64, chunk_count: u64) -> Option<u64> {
    (BLOB_HEADER_LEN as u64)
        .checked_add(len)?
        .checked_add(chunk_count.checked_mul(BLOB_CRC_ENTRY_LEN as u64)?)?
        .checked_add(BLOB_FOOTER_LEN as u64)
}

/// What [`BlobWriter::finish`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob id.
    pub id: u64,
    /// Length of the value in bytes.
    pub len: u64,
    /// Chunk size the value was checksummed with.
    pub chunk_size: u32,
    /// Number of chunks (`ceil(len / chunk_size)`).
    pub chunk_count: u64,
    /// Path of the blob file.
    pub path: PathBuf,
}

/// Streams one large value into a new blob file.
///
/// Implements [`std::io::Write`]; at most one chunk is buffered in memory. Whole chunks are
/// written with `pwrite` into space preallocated ahead (in steps of up to
/// [`BLOB_PREALLOC_STEP`]), so a full disk surfaces as an error from `write`. Nothing is
/// durable, and the blob does not exist as far as [`BlobFile::open`] is concerned, until
/// [`BlobWriter::finish`] returns. Dropping an unfinished writer (or calling
/// [`BlobWriter::abort`]) removes the file. After any write error the writer refuses further
/// writes; drop or abort it.
pub struct BlobWriter {
    file: File,
    dir: PathBuf,
    path: PathBuf,
    id: u64,
    chunk_size: u32,
    /// The current partial chunk (always shorter than `chunk_size` between calls).
    buf: Vec<u8>,
    /// CRC of every chunk written so far.
    crcs: Vec<u32>,
    /// Data bytes accepted from the caller.
    written: u64,
    /// Data bytes written to the file (a multiple of `chunk_size` until `finish`).
    flushed: u64,
    /// File length reserved with `preallocate` (the file's current length).
    allocated: u64,
    /// A write failed; the writer is unusable.
    failed: bool,
    /// `finish` succeeded: the file must survive the drop.
    finished: bool,
}

impl fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobWriter")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("chunk_size", &self.chunk_size)
            .field("written", &self.written)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl BlobWriter {
    /// Creates `dir/blob-<id>.pkb` (failing if it exists) and writes its header.
    ///
    /// `chunk_size` must be a power of two in
    /// [`MIN_BLOB_CHUNK_SIZE`]`..=`[`MAX_BLOB_CHUNK_SIZE`] (usually
    /// [`DEFAULT_BLOB_CHUNK_SIZE`]); otherwise [`Error::InvalidArgument`].
    pub fn create(dir: &Path, id: u64, chunk_size: u32) -> Result<BlobWriter> {
        if !validate_chunk_size(chunk_size) {
            return Err(Error::InvalidArgument(format!(
                "blob chunk size {chunk_size} is not a power of two in \
                 {MIN_BLOB_CHUNK_SIZE}..={MAX_BLOB_CHUNK_SIZE}"
            )));
        }
        let path = dir.join(blob_file_name(id));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(format!("creating blob file {}", path.display()), e))?;
        // From here on, dropping the writer (also on the error path below) removes the file.
        let mut writer = BlobWriter {
            file,
            dir: dir.to_path_buf(),
            path,
            id,
            chunk_size,
            buf: Vec::new(),
            crcs: Vec::new(),
            written: 0,
            flushed: 0,
            allocated: 0,
            failed: false,
            finished: false,
        };
        let header = encode_header(id, chunk_size);
        write_at(&writer.file, &header, 0).map_err(|e| writer.io_error("writing header of", e))?;
        writer.allocated = BLOB_HEADER_LEN as u64;
        writer.buf.reserve_exact(chunk_size as usize);
        Ok(writer)
    }

    /// The blob id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Path of the file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of value bytes accepted so far (including the buffered partial chunk).
    pub fn written(&self) -> u64 {
        self.written
    }

    fn io_error(&mut self, what: &str, e: io::Error) -> Error {
        self.failed = true;
        Error::io(format!("{what} blob file {}", self.path.display()), e)
    }

    /// Makes sure the file is preallocated up to `end`, growing geometrically (by the
    /// current size, clamped to `chunk_size..=BLOB_PREALLOC_STEP`).
    fn ensure_allocated(&mut self, end: u64) -> io::Result<()> {
        if end <= self.allocated {
            return Ok(());
        }
        let growth = self.allocated.clamp(self.chunk_size as u64, BLOB_PREALLOC_STEP);
        let target = end.max(self.allocated.saturating_add(growth));
        preallocate(&self.file, self.allocated, target - self.allocated)?;
        self.allocated = target;
        Ok(())
    }

    /// Checksums and writes `data` (whole chunks, except for the final tail in `finish`) at
    /// the current end of the data.
    fn write_chunks(&mut self, data: &[u8]) -> io::Result<()> {
        let offset = BLOB_HEADER_LEN as u64 + self.flushed;
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "blob too large"))?;
        self.ensure_allocated(end)?;
        self.crcs.extend(data.chunks(self.chunk_size as usize).map(crc32fast::hash));
        write_at(&self.file, data, offset)?;
        self.flushed += data.len() as u64;
        Ok(())
    }

    /// Writes the buffered chunk (full, or the last partial one in `finish`).
    fn flush_buf(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let result = self.write_chunks(&buf);
        self.buf = buf;
        self.buf.clear();
        result
    }

    fn write_inner(&mut self, mut data: &[u8]) -> io::Result<()> {
        let chunk = self.chunk_size as usize;
        if !self.buf.is_empty() {
            let take = (chunk - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == chunk {
                self.flush_buf()?;
            }
        }
        if self.buf.is_empty() {
            // Whole chunks go straight from the caller's buffer to the file.
            let batch = (WRITE_BATCH / chunk).max(1) * chunk;
            while data.len() >= chunk {
                let n = (data.len() / chunk * chunk).min(batch);
                self.write_chunks(&data[..n])?;
                data = &data[n..];
            }
            self.buf.extend_from_slice(data);
        }
        Ok(())
    }

    /// Completes the blob: writes the last partial chunk, the CRC table and the footer,
    /// truncates the file to its exact length and makes it durable (file and directory
    /// fsync). Once this returns, the blob can be opened and referenced from the index.
    ///
    /// The footer is written only after the data, table and final length have been
    /// fsynced, so a valid footer on disk implies a complete, durable blob. On error the
    /// file is removed.
    pub fn finish(mut self) -> Result<BlobInfo> {
        if self.failed {
            return Err(Error::io(
                format!("finishing blob file {}", self.path.display()),
                io::Error::other("an earlier write to this blob failed"),
            ));
        }
        if !self.buf.is_empty() {
            self.flush_buf().map_err(|e| self.io_error("writing last chunk of", e))?;
        }
        let len = self.written;
        let chunk_count = self.crcs.len() as u64;
        debug_assert_eq!(self.flushed, len);
        debug_assert_eq!(chunk_count, len.div_ceil(self.chunk_size as u64));
        let total = complete_file_len(len, chunk_count)
            .ok_or_else(|| Error::InvalidArgument(format!("blob of {len} bytes is too large")))?;
        let table: Vec<u8> = self.crcs.iter().flat_map(|c| c.to_le_bytes()).collect();
        let table_crc = crc32fast::hash(&table);
        let footer = encode_footer(len, chunk_count, table_crc);

        self.ensure_allocated(total).map_err(|e| self.io_error("preallocating", e))?;
        write_at(&self.file, &table, BLOB_HEADER_LEN as u64 + len)
            .map_err(|e| self.io_error("writing CRC table of", e))?;
        // Shrink away the preallocation beyond the footer. Nobody maps the file yet.
        self.file.set_len(total).map_err(|e| self.io_error("truncating", e))?;
        self.allocated = total;
        self.file.sync_all().map_err(|e| self.io_error("syncing", e))?;
        // Commit point: the footer goes into bytes that are already allocated and zero.
        write_at(&self.file, &footer, total - BLOB_FOOTER_LEN as u64)
            .map_err(|e| self.io_error("writing footer of", e))?;
        self.file.sync_all().map_err(|e| self.io_error("syncing footer of", e))?;
        sync_dir(&self.dir).map_err(|e| {
            self.failed = true;
            Error::io(format!("syncing directory {}", self.dir.display()), e)
        })?;
        self.finished = true;
        Ok(BlobInfo { id: self.id, len, chunk_size: self.chunk_size, chunk_count, path: self.path.clone() })
    }

    /// Abandons the blob and removes its file.
    pub fn abort(mut self) -> Result<()> {
        self.finished = true; // the drop must not try to remove it a second time
        std::fs::remove_file(&self.path)
            .map_err(|e| Error::io(format!("removing blob file {}", self.path.display()), e))
    }
}

impl io::Write for BlobWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("an earlier write to this blob failed"));
        }
        let Some(written) = self.written.checked_add(data.len() as u64) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "blob too large"));
        };
        if let Err(e) = self.write_inner(data) {
            self.failed = true;
            return Err(e);
        }
        self.written = written;
        Ok(data.len())
    }

    /// Does nothing (beyond reporting an earlier failure): the partial chunk stays buffered
    /// and nothing is durable before [`BlobWriter::finish`].
    fn flush(&mut self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("an earlier write to this blob failed"));
        }
        Ok(())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A complete blob file, mapped read-only.
///
/// Opening is O(1) in the value size: it checks the header, the footer, the file length and
/// the CRC table's own CRC, but no data. Data chunks are verified on use
/// ([`BlobFile::verify_chunk`], [`BlobReader`]). The mapping stays valid if the file is
/// unlinked while open.
#[derive(Debug)]
pub struct BlobFile {
    map: MappedFile,
    path: PathBuf,
    id: u64,
    len: u64,
    chunk_size: u32,
    chunk_count: u64,
}

impl BlobFile {
    /// Opens and maps `dir/blob-<id>.pkb` and checks its structure.
    ///
    /// Errors: [`Error::Io`] if the file cannot be opened or mapped,
    /// [`Error::UnsupportedVersion`] for another format version, and [`Error::Corruption`]
    /// for a bad header (magic, CRC, chunk size, id), a missing or bad footer (which is
    /// what an incomplete blob looks like), a file length or chunk count inconsistent with
    /// the footer, or a CRC table that fails its CRC.
    pub fn open(dir: &Path, id: u64) -> Result<BlobFile> {
        let path = dir.join(blob_file_name(id));
        let file = File::open(&path).map_err(|e| Error::io(format!("opening blob file {}", path.display()), e))?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io(format!("reading metadata of blob file {}", path.display()), e))?
            .len();
        if file_len < BLOB_HEADER_LEN as u64 {
            return Err(Error::corruption(
                &path,
                0,
                format!("blob file of {file_len} bytes is shorter than its header"),
            ));
        }
        let map = MappedFile::map(&file, file_len)
            .map_err(|e| Error::io(format!("mapping blob file {}", path.display()), e))?;
        drop(file);
        let chunk_size = check_header(&map[..BLOB_HEADER_LEN], &path, id)?;
        if file_len < MIN_COMPLETE_LEN {
            return Err(Error::corruption(
                &path,
                file_len,
                format!("blob file of {file_len} bytes has no footer (incomplete blob?)"),
            ));
        }
        // file_len fits in usize: the whole file is mapped.
        let footer_at = map.len() - BLOB_FOOTER_LEN;
        let (len, chunk_count, table_crc) = check_footer(&map[footer_at..], &path, footer_at as u64)?;
        if len.div_ceil(chunk_size as u64) != chunk_count {
            return Err(Error::corruption(
                &path,
                footer_at as u64,
                format!(
                    "blob footer: {chunk_count} chunks do not match length {len} with \
                     chunk size {chunk_size}"
                ),
            ));
        }
        if complete_file_len(len, chunk_count) != Some(file_len) {
            return Err(Error::corruption(
                &path,
                footer_at as u64,
                format!(
                    "blob footer: length {len} in {chunk_count} chunks does not match file \
                     length {file_len}"
                ),
            ));
        }
        // In bounds: 64 + len + 4 * chunk_count + 32 == file_len (checked above).
        let table_at = BLOB_HEADER_LEN + len as usize;
        let computed = crc32fast::hash(&map[table_at..footer_at]);
        if computed != table_crc {
            return Err(Error::corruption(
                &path,
                table_at as u64,
                format!("blob CRC table CRC mismatch: stored {table_crc:08x}, computed {computed:08x}"),
            ));
        }
        Ok(BlobFile { map, path, id, len, chunk_size, chunk_count })
    }

    /// The blob id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Length of the value in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Number of chunks (`ceil(len / chunk_size)`).
    pub fn chunk_count(&self) -> u64 {
        self.chunk_count
    }

    /// Path of the blob file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte range of chunk `i` within the data.
    fn chunk_range(&self, i: u64) -> std::ops::Range<usize> {
        let cs = self.chunk_size as usize;
        let start = i as usize * cs;
        let end = (start + cs).min(self.len as usize);
        start..end
    }

    fn stored_crc(&self, i: u64) -> u32 {
        get_u32(&self.map, BLOB_HEADER_LEN + self.len as usize + i as usize * BLOB_CRC_ENTRY_LEN)
    }

    /// Returns chunk `i`'s bytes after checking them against their CRC in the (verified)
    /// CRC table. [`Error::Corruption`] if they do not match, [`Error::InvalidArgument`] if
    /// `i >= chunk_count()`.
    pub fn verify_chunk(&self, i: u64) -> Result<&[u8]> {
        if i >= self.chunk_count {
            return Err(Error::InvalidArgument(format!(
                "chunk {i} out of range: blob {} has {} chunks",
                self.path.display(),
                self.chunk_count
            )));
        }
        let range = self.chunk_range(i);
        let bytes = &self.data_unverified()[range.clone()];
        let stored = self.stored_crc(i);
        let computed = crc32fast::hash(bytes);
        if stored != computed {
            return Err(Error::corruption(
                &self.path,
                (BLOB_HEADER_LEN + range.start) as u64,
                format!("blob chunk {i} CRC mismatch: stored {stored:08x}, computed {computed:08x}"),
            ));
        }
        Ok(bytes)
    }

    /// Verifies every chunk (reads the whole value). Fails with the first bad chunk.
    pub fn verify_all(&self) -> Result<()> {
        for i in 0..self.chunk_count {
            self.verify_chunk(i)?;
        }
        Ok(())
    }

    /// The whole value, zero-copy, **without** checking any chunk CRC.
    ///
    /// Only for callers that have verified the chunks they use (with
    /// [`BlobFile::verify_all`] or [`BlobFile::verify_chunk`]) or that verify the bytes
    /// themselves; otherwise use [`BlobFile::reader`] or [`BlobFile::verify_chunk`].
    pub fn data_unverified(&self) -> &[u8] {
        &self.map[BLOB_HEADER_LEN..BLOB_HEADER_LEN + self.len as usize]
    }

    /// A [`BlobReader`] positioned at the start of the value.
    pub fn reader(self: &Arc<Self>) -> BlobReader {
        BlobReader { file: Arc::clone(self), pos: 0, verified: None }
    }
}

/// Reads a blob's value as a stream ([`std::io::Read`] + [`std::io::Seek`]), verifying each
/// chunk's CRC the first time it serves bytes from it.
///
/// The reader remembers the last chunk it verified; seeking back into an earlier chunk
/// verifies that chunk again. A chunk that fails verification makes `read` return an
/// [`io::Error`] of kind [`io::ErrorKind::InvalidData`] whose inner error
/// (`get_ref`/`into_inner`) is the [`Error::Corruption`]; bytes before it were served.
#[derive(Debug, Clone)]
pub struct BlobReader {
    file: Arc<BlobFile>,
    pos: u64,
    /// Index of the last chunk whose CRC was verified.
    verified: Option<u64>,
}

impl BlobReader {
    /// Length of the value in bytes.
    pub fn len(&self) -> u64 {
        self.file.len
    }

    /// True if the value is empty.
    pub fn is_empty(&self) -> bool {
        self.file.len == 0
    }

    /// Current position within the value.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The blob file this reader reads.
    pub fn file(&self) -> &Arc<BlobFile> {
        &self.file
    }

    /// The verified chunk containing the current position (which must be `< len`).
    fn current_chunk(&mut self) -> Result<(u64, &[u8])> {
        let i = self.pos / self.file.chunk_size as u64;
        let bytes = if self.verified == Some(i) {
            &self.file.data_unverified()[self.file.chunk_range(i)]
        } else {
            let bytes = self.file.verify_chunk(i)?;
            self.verified = Some(i);
            bytes
        };
        Ok((i, bytes))
    }

    /// Returns the rest of the current chunk (a whole chunk when reading from a chunk
    /// boundary), verified, zero-copy, and advances past it. `Ok(None)` at the end of the
    /// value.
    pub fn next_chunk(&mut self) -> Result<Option<&[u8]>> {
        if self.pos >= self.file.len {
            return Ok(None);
        }
        let cs = self.file.chunk_size as u64;
        let pos = self.pos;
        let (i, _) = self.current_chunk()?;
        let start = (pos - i * cs) as usize;
        let range = self.file.chunk_range(i);
        self.pos = (i * cs) + range.len() as u64;
        Ok(Some(&self.file.data_unverified()[range][start..]))
    }
}

impl io::Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cs = self.file.chunk_size as u64;
        let mut n = 0;
        while n < buf.len() && self.pos < self.file.len {
            let pos = self.pos;
            let (i, chunk) = match self.current_chunk() {
                Ok(c) => c,
                // Serve what we have; the next call reports the error.
                Err(_) if n > 0 => break,
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            };
            let src = &chunk[(pos - i * cs) as usize..];
            let k = src.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&src[..k]);
            n += k;
            self.pos += k as u64;
        }
        Ok(n)
    }
}

impl io::Seek for BlobReader {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let target = match pos {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => self.file.len.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => {
                Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid seek to a negative or overflowing position"))
            }
        }
    }
}

/// Deletes the incomplete blob files (left by a crash while writing) in `dir` and returns
/// their ids, sorted.
///
/// A blob file (a name accepted by [`parse_blob_file_name`]) is *incomplete*, and deleted,
/// when it has no valid footer (shorter than header + footer, or bad footer magic or CRC)
/// **and** its header is either valid (magic, version 1, CRC, chunk size, matching id) or
/// was never written (the file is shorter than the header or its header bytes are all
/// zero). Because [`BlobWriter::finish`] writes the footer only after everything else is
/// durable, such a file was never finished and so was never referenced by the index.
///
/// Everything else is left in place: complete files (valid footer) even if their data or
/// table is damaged (that is reported when they are opened or read), and files without a
/// footer whose header is damaged or of another format version (logged with `tracing` at
/// warn level; they may belong to a newer build or be damaged complete blobs, so deleting
/// them would destroy evidence). Only the header and footer are read (O(1) per file).
///
/// Must not run while a [`BlobWriter`] is writing in `dir`: its file is incomplete too.
/// I/O errors (listing the directory, reading or removing a file) are returned.
pub fn remove_incomplete_blobs(dir: &Path) -> Result<Vec<u64>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing blob directory {}", dir.display()), e))?;
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing blob directory {}", dir.display()), e))?;
        let Some(id) = entry.file_name().to_str().and_then(parse_blob_file_name) else {
            continue;
        };
        let path = entry.path();
        let is_file = entry.file_type().map_err(|e| Error::io(format!("inspecting {}", path.display()), e))?.is_file();
        if !is_file {
            continue;
        }
        match probe(&path, id)? {
            Probe::Footer => {}
            Probe::Incomplete => {
                std::fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("removing incomplete blob {}", path.display()), e))?;
                removed.push(id);
            }
            Probe::BadHeaderNoFooter(e) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "blob file has neither a valid header nor a footer; leaving it in place"
                );
            }
        }
    }
    if !removed.is_empty() {
        sync_dir(dir).map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))?;
    }
    removed.sort_unstable();
    Ok(removed)
}

/// Classification of a blob file by [`remove_incomplete_blobs`].
enum Probe {
    /// Has a valid footer (magic + CRC): finished at some point. Never deleted.
    Footer,
    /// No valid footer, header valid or never written.
    Incomplete,
    /// No valid footer and a damaged or foreign header.
    BadHeaderNoFooter(Error),
}

fn probe(path: &Path, id: u64) -> Result<Probe> {
    let ctx = |e: io::Error| Error::io(format!("reading blob file {}", path.display()), e);
    let file = File::open(path).map_err(ctx)?;
    let file_len = file.metadata().map_err(ctx)?.len();
    if file_len >= MIN_COMPLETE_LEN {
        let mut footer = [0u8; BLOB_FOOTER_LEN];
        let at = file_len - BLOB_FOOTER_LEN as u64;
        read_at(&file, &mut footer, at).map_err(ctx)?;
        if check_footer(&footer, path, at).is_ok() {
            return Ok(Probe::Footer);
        }
    }
    if file_len < BLOB_HEADER_LEN as u64 {
        return Ok(Probe::Incomplete);
    }
    let mut header = [0u8; BLOB_HEADER_LEN];
    read_at(&file, &mut header, 0).map_err(ctx)?;
    if header.iter().all(|&b| b == 0) {
        return Ok(Probe::Incomplete);
    }
    match check_header(&header, path, id) {
        Ok(_) => Ok(Probe::Incomplete),
        Err(e) => Ok(Probe::BadHeaderNoFooter(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    const CS: u32 = MIN_BLOB_CHUNK_SIZE;

    /// Deterministic pseudo-random bytes: byte `i` of stream `seed` (xorshift over 8-byte
    /// words, so any range can be regenerated without keeping the data).
    fn fill(seed: u64, start: u64, out: &mut [u8]) {
        for (k, b) in out.iter_mut().enumerate() {
            let i = start + k as u64;
            let mut x = (i / 8).wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> ((i % 8) * 8)) as u8;
        }
    }

    /// Fast variant for large buffers: `start` and `out.len()` multiples of 8.
    fn fill_words(seed: u64, start: u64, out: &mut [u8]) {
        assert!(start.is_multiple_of(8) && out.len().is_multiple_of(8));
        for (w, word) in out.chunks_exact_mut(8).enumerate() {
            let mut x = (start / 8 + w as u64).wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
    }

    fn data(seed: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        fill(seed, 0, &mut v);
        v
    }

    fn write_blob(dir: &Path, id: u64, chunk_size: u32, value: &[u8]) -> BlobInfo {
        let mut w = BlobWriter::create(dir, id, chunk_size).unwrap();
        w.write_all(value).unwrap();
        assert_eq!(w.written(), value.len() as u64);
        w.finish().unwrap()
    }

    fn open(dir: &Path, id: u64) -> Arc<BlobFile> {
        Arc::new(BlobFile::open(dir, id).unwrap())
    }

    fn lengths() -> Vec<usize> {
        let cs = CS as usize;
        vec![0, 1, cs - 1, cs, cs + 1, 10 * cs + 123]
    }

    #[test]
    fn file_names() {
        assert_eq!(blob_file_name(0x1f), "blob-000000000000001f.pkb");
        for id in [0, 1, 0xdead_beef, u64::MAX] {
            assert_eq!(parse_blob_file_name(&blob_file_name(id)), Some(id));
        }
        for bad in [
            "blob-1f.pkb",
            "blob-000000000000001F.pkb",
            "blob-+00000000000001f.pkb",
            "blob-000000000000001f.pkbx",
            "blob-0000000000000001f.pkb",
            "xblob-000000000000001f.pkb",
            "blob-000000000000001g.pkb",
            "seg-000000000000001f.pkb",
        ] {
            assert_eq!(parse_blob_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<BlobFile>();
        assert_send_sync::<BlobReader>();
        assert_send_sync::<BlobWriter>();
    }

    #[test]
    fn roundtrip_whole_writes_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        for (n, len) in lengths().into_iter().enumerate() {
            let id = n as u64 + 100;
            let value = data(id, len);
            let info = write_blob(dir.path(), id, CS, &value);
            let chunks = (len as u64).div_ceil(CS as u64);
            assert_eq!(
                info,
                BlobInfo {
                    id,
                    len: len as u64,
                    chunk_size: CS,
                    chunk_count: chunks,
                    path: dir.path().join(blob_file_name(id)),
                }
            );
            let file_len = std::fs::metadata(&info.path).unwrap().len();
            assert_eq!(file_len, 64 + len as u64 + 4 * chunks + 32);

            let blob = open(dir.path(), id);
            assert_eq!(blob.id(), id);
            assert_eq!(blob.len(), len as u64);
            assert_eq!(blob.is_empty(), len == 0);
            assert_eq!(blob.chunk_size(), CS);
            assert_eq!(blob.chunk_count(), chunks);
            assert_eq!(blob.path(), info.path);
            blob.verify_all().unwrap();
            assert_eq!(blob.data_unverified(), &value[..]);
            assert!(matches!(blob.verify_chunk(chunks), Err(Error::InvalidArgument(_))));

            let mut r = blob.reader();
            assert_eq!(r.len(), len as u64);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert!(out == value, "len {len}");
            assert_eq!(r.read(&mut [0u8; 10]).unwrap(), 0);
        }
    }

    #[test]
    fn roundtrip_odd_sized_writes_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [1usize, 7, 4095, 13, 4097, 3, 8192, 5000, 2];
        for (n, len) in lengths().into_iter().enumerate() {
            let id = n as u64;
            let value = data(id + 7, len);
            let mut w = BlobWriter::create(dir.path(), id, CS).unwrap();
            let (mut at, mut k) = (0, 0);
            while at < len {
                let step = sizes[k % sizes.len()].min(len - at);
                w.write_all(&value[at..at + step]).unwrap();
                at += step;
                k += 1;
                assert_eq!(w.written(), at as u64);
            }
            w.write_all(&[]).unwrap();
            w.flush().unwrap();
            let info = w.finish().unwrap();
            assert_eq!(info.len, len as u64);

            let blob = open(dir.path(), id);
            let mut r = blob.reader();
            let mut out = Vec::new();
            let mut k = 3;
            loop {
                let mut buf = vec![0u8; sizes[k % sizes.len()]];
                let got = r.read(&mut buf).unwrap();
                if got == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..got]);
                k += 1;
            }
            assert!(out == value, "len {len}");
        }
    }

    #[test]
    fn seeks() {
        let dir = tempfile::tempdir().unwrap();
        let len = 10 * CS as usize + 123;
        let value = data(5, len);
        write_blob(dir.path(), 5, CS, &value);
        let blob = open(dir.path(), 5);
        let mut r = blob.reader();
        for &(from, n) in &[(0usize, 10usize), (4090, 20), (len - 5, 5), (8192, 4096), (123, 9000)] {
            assert_eq!(r.seek(SeekFrom::Start(from as u64)).unwrap(), from as u64);
            let mut buf = vec![0u8; n];
            r.read_exact(&mut buf).unwrap();
            assert_eq!(buf, &value[from..from + n]);
            assert_eq!(r.position(), (from + n) as u64);
        }
        assert_eq!(r.seek(SeekFrom::End(-3)).unwrap(), len as u64 - 3);
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &value[len - 3..]);
        assert_eq!(r.seek(SeekFrom::Current(-100)).unwrap(), len as u64 - 100);
        let mut buf = [0u8; 50];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..], &value[len - 100..len - 50]);
        // Back into an earlier chunk (re-verified).
        r.seek(SeekFrom::Current(-5000)).unwrap();
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..], &value[len - 5050..len - 5000]);
        // Past the end reads nothing; negative positions are rejected.
        assert_eq!(r.seek(SeekFrom::End(10)).unwrap(), len as u64 + 10);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert!(r.next_chunk().unwrap().is_none());
        let err = r.seek(SeekFrom::End(-(len as i64) - 1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(r.position(), len as u64 + 10);
        assert_eq!(r.seek(SeekFrom::Start(0)).unwrap(), 0);
    }

    #[test]
    fn next_chunk_streaming() {
        let dir = tempfile::tempdir().unwrap();
        for (n, len) in lengths().into_iter().enumerate() {
            let id = n as u64;
            let value = data(id + 1, len);
            write_blob(dir.path(), id, CS, &value);
            let blob = open(dir.path(), id);
            let mut r = blob.reader();
            let mut out = Vec::new();
            let mut count = 0;
            while let Some(chunk) = r.next_chunk().unwrap() {
                assert!(!chunk.is_empty() && chunk.len() <= CS as usize);
                out.extend_from_slice(chunk);
                count += 1;
            }
            assert_eq!(count, blob.chunk_count());
            assert!(out == value);
            assert!(r.next_chunk().unwrap().is_none());
        }
        // From the middle of a chunk: the rest of that chunk, then whole chunks.
        let value = data(6, 10 * CS as usize + 123);
        let blob = open(dir.path(), 5);
        let mut r = blob.reader();
        r.seek(SeekFrom::Start(CS as u64 + 10)).unwrap();
        assert_eq!(r.next_chunk().unwrap().unwrap(), &value[CS as usize + 10..2 * CS as usize]);
        assert_eq!(r.next_chunk().unwrap().unwrap(), &value[2 * CS as usize..3 * CS as usize]);
        let mut buf = [0u8; 7];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(r.next_chunk().unwrap().unwrap(), &value[3 * CS as usize + 7..4 * CS as usize]);
    }

    #[test]
    fn large_value_streaming_64_mib() {
        const LEN: u64 = 64 << 20;
        const SEED: u64 = 42;
        let dir = tempfile::tempdir().unwrap();
        let mut w = BlobWriter::create(dir.path(), 1, DEFAULT_BLOB_CHUNK_SIZE).unwrap();
        // Writes of 3 MiB + 8 bytes, so they straddle chunk boundaries.
        let mut buf = vec![0u8; (3 << 20) + 8];
        let mut expected = crc32fast::Hasher::new();
        let mut at = 0u64;
        while at < LEN {
            let n = (buf.len() as u64).min(LEN - at) as usize;
            fill_words(SEED, at, &mut buf[..n]);
            expected.update(&buf[..n]);
            w.write_all(&buf[..n]).unwrap();
            at += n as u64;
        }
        drop(buf);
        let info = w.finish().unwrap();
        assert_eq!((info.len, info.chunk_count), (LEN, 64));
        let expected = expected.finalize();

        let blob = open(dir.path(), 1);
        let mut r = blob.reader();
        let mut got = crc32fast::Hasher::new();
        let mut regenerated = vec![0u8; DEFAULT_BLOB_CHUNK_SIZE as usize];
        let mut at = 0u64;
        while let Some(chunk) = r.next_chunk().unwrap() {
            assert_eq!(chunk.len(), DEFAULT_BLOB_CHUNK_SIZE as usize);
            fill_words(SEED, at, &mut regenerated);
            assert!(chunk == &regenerated[..], "chunk at {at} differs");
            got.update(chunk);
            at += chunk.len() as u64;
        }
        assert_eq!(at, LEN);
        assert_eq!(got.finalize(), expected);
    }

    #[test]
    fn corrupted_data_chunk_fails_only_that_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let len = 10 * CS as usize + 123;
        let value = data(3, len);
        let info = write_blob(dir.path(), 3, CS, &value);
        let bad_at = 64 + 3 * CS as u64 + 100;
        flip(&info.path, bad_at);

        let blob = open(dir.path(), 3); // O(1) open does not notice
        for i in 0..blob.chunk_count() {
            let r = blob.verify_chunk(i);
            if i == 3 {
                match r {
                    Err(Error::Corruption { offset, .. }) => assert_eq!(offset, 64 + 3 * CS as u64),
                    other => panic!("expected corruption, got {other:?}"),
                }
            } else {
                assert!(r.unwrap() == &value[blob.chunk_range(i)]);
            }
        }
        assert!(blob.verify_all().unwrap_err().is_corruption());

        // Read: everything before chunk 3 is served, then InvalidData wrapping Corruption.
        let mut r = blob.reader();
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let inner = err.get_ref().unwrap().downcast_ref::<Error>().unwrap();
        assert!(inner.is_corruption());
        assert_eq!(out, &value[..3 * CS as usize]);
        // The error persists on retry, without advancing.
        assert_eq!(r.read(&mut [0u8; 1]).unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(r.next_chunk().unwrap_err().is_corruption());
        // Other chunks still read.
        r.seek(SeekFrom::Start(4 * CS as u64 + 1)).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &value[4 * CS as usize + 1..]);
        // Concurrent readers share the file.
        let b2 = Arc::clone(&blob);
        let t = std::thread::spawn(move || {
            let mut r = b2.reader();
            r.seek(SeekFrom::Start(0)).unwrap();
            r.next_chunk().unwrap().unwrap().to_vec()
        });
        assert_eq!(t.join().unwrap(), &value[..CS as usize]);
    }

    fn flip(path: &Path, offset: u64) {
        let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
        let mut b = [0u8; 1];
        read_at(&f, &mut b, offset).unwrap();
        b[0] ^= 0x40;
        write_at(&f, &b, offset).unwrap();
    }

    #[test]
    fn corrupted_header_table_or_footer_fails_open() {
        let dir = tempfile::tempdir().unwrap();
        let len = 3 * CS as u64 + 5;
        let value = data(9, len as usize);
        let table_at = 64 + len;
        let footer_at = table_at + 4 * 4;
        let offsets = [
            0,
            7,
            BLOB_HEADER_VERSION_OFFSET as u64 + 1,
            BLOB_HEADER_CHUNK_SIZE_OFFSET as u64 + 1,
            BLOB_HEADER_ID_OFFSET as u64,
            30,
            BLOB_HEADER_CRC_OFFSET as u64 + 3,
            table_at,
            table_at + 13,
            footer_at,
            footer_at + BLOB_FOOTER_LEN_OFFSET as u64,
            footer_at + BLOB_FOOTER_CHUNK_COUNT_OFFSET as u64,
            footer_at + BLOB_FOOTER_TABLE_CRC_OFFSET as u64 + 2,
            footer_at + BLOB_FOOTER_CRC_OFFSET as u64,
            footer_at + 31,
        ];
        for (n, &off) in offsets.iter().enumerate() {
            let id = n as u64;
            let info = write_blob(dir.path(), id, CS, &value);
            assert_eq!(std::fs::metadata(&info.path).unwrap().len(), footer_at + 32);
            flip(&info.path, off);
            let err = BlobFile::open(dir.path(), id).unwrap_err();
            if off == BLOB_HEADER_VERSION_OFFSET as u64 + 1 {
                assert!(matches!(err, Error::UnsupportedVersion { found: 0x4001, supported: 1, .. }), "{err}");
            } else {
                assert!(err.is_corruption(), "offset {off}: {err}");
            }
        }
    }

    #[test]
    fn valid_crcs_but_inconsistent_fields_fail_open() {
        let dir = tempfile::tempdir().unwrap();
        let value = data(1, 2 * CS as usize + 1);
        // Header with a valid CRC but the wrong id / a bad chunk size.
        let info = write_blob(dir.path(), 1, CS, &value);
        std::fs::rename(&info.path, dir.path().join(blob_file_name(2))).unwrap();
        assert!(BlobFile::open(dir.path(), 2).unwrap_err().is_corruption());
        let info = write_blob(dir.path(), 3, CS, &value);
        let f = OpenOptions::new().write(true).open(&info.path).unwrap();
        write_at(&f, &encode_header(3, 4097), 0).unwrap();
        assert!(BlobFile::open(dir.path(), 3).unwrap_err().is_corruption());
        // Footer with a valid CRC but a wrong chunk count / length.
        let info = write_blob(dir.path(), 4, CS, &value);
        let table = std::fs::read(&info.path).unwrap()[64 + value.len()..][..12].to_vec();
        let f = OpenOptions::new().write(true).open(&info.path).unwrap();
        let at = info.len + 64 + 12;
        write_at(&f, &encode_footer(info.len, 4, crc32fast::hash(&table)), at).unwrap();
        assert!(BlobFile::open(dir.path(), 4).unwrap_err().is_corruption());
        write_at(&f, &encode_footer(info.len - 1, 3, crc32fast::hash(&table)), at).unwrap();
        assert!(BlobFile::open(dir.path(), 4).unwrap_err().is_corruption());
        write_at(&f, &encode_footer(u64::MAX - 10, (u64::MAX - 10).div_ceil(4096), 0), at).unwrap();
        assert!(BlobFile::open(dir.path(), 4).unwrap_err().is_corruption());
        write_at(&f, &encode_footer(info.len, 3, crc32fast::hash(&table)), at).unwrap();
        BlobFile::open(dir.path(), 4).unwrap().verify_all().unwrap();
    }

    #[test]
    fn truncated_or_extended_file_fails_open() {
        let dir = tempfile::tempdir().unwrap();
        let value = data(2, 2 * CS as usize + 77);
        for (n, cut) in [1u64, 4, 31, 32, 33, 100].into_iter().enumerate() {
            let id = n as u64;
            let info = write_blob(dir.path(), id, CS, &value);
            let full = std::fs::metadata(&info.path).unwrap().len();
            OpenOptions::new().write(true).open(&info.path).unwrap().set_len(full - cut).unwrap();
            assert!(BlobFile::open(dir.path(), id).unwrap_err().is_corruption(), "cut {cut}");
        }
        for (n, new_len) in [0u64, 10, 63, 64, 95].into_iter().enumerate() {
            let id = 100 + n as u64;
            let info = write_blob(dir.path(), id, CS, &[]);
            OpenOptions::new().write(true).open(&info.path).unwrap().set_len(new_len).unwrap();
            assert!(BlobFile::open(dir.path(), id).unwrap_err().is_corruption(), "len {new_len}");
        }
        let info = write_blob(dir.path(), 200, CS, &value);
        let full = std::fs::metadata(&info.path).unwrap().len();
        OpenOptions::new().write(true).open(&info.path).unwrap().set_len(full + 1).unwrap();
        assert!(BlobFile::open(dir.path(), 200).unwrap_err().is_corruption());
        assert!(matches!(BlobFile::open(dir.path(), 999), Err(Error::Io { .. })));
    }

    #[test]
    fn unfinished_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(blob_file_name(1));
        {
            let mut w = BlobWriter::create(dir.path(), 1, CS).unwrap();
            w.write_all(&data(1, 3 * CS as usize + 5)).unwrap();
            assert!(path.exists());
            assert!(std::fs::metadata(&path).unwrap().len() >= 64 + 3 * CS as u64);
            assert!(BlobFile::open(dir.path(), 1).is_err());
        }
        assert!(!path.exists());

        let mut w = BlobWriter::create(dir.path(), 1, CS).unwrap();
        w.write_all(b"abc").unwrap();
        w.abort().unwrap();
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        // create_new: an existing blob is never overwritten.
        write_blob(dir.path(), 1, CS, b"keep");
        assert!(matches!(BlobWriter::create(dir.path(), 1, CS), Err(Error::Io { .. })));
        assert_eq!(open(dir.path(), 1).data_unverified(), b"keep");

        for bad in [0, 1, 4095, 4097, 6 << 10, 2048, 128 << 20, u32::MAX] {
            assert!(matches!(BlobWriter::create(dir.path(), 2, bad), Err(Error::InvalidArgument(_))));
        }
        assert!(!dir.path().join(blob_file_name(2)).exists());
        for ok in [MIN_BLOB_CHUNK_SIZE, DEFAULT_BLOB_CHUNK_SIZE, MAX_BLOB_CHUNK_SIZE] {
            let info = write_blob(dir.path(), 10 + ok as u64, ok, b"x");
            assert_eq!(info.chunk_size, ok);
            assert_eq!(open(dir.path(), info.id).verify_chunk(0).unwrap(), b"x");
        }
    }

    #[test]
    fn unlinked_blob_stays_readable_while_open() {
        let dir = tempfile::tempdir().unwrap();
        let value = data(4, 5 * CS as usize);
        let info = write_blob(dir.path(), 4, CS, &value);
        let blob = open(dir.path(), 4);
        std::fs::remove_file(&info.path).unwrap();
        let mut out = Vec::new();
        blob.reader().read_to_end(&mut out).unwrap();
        assert!(out == value);
    }

    #[test]
    fn remove_incomplete_blobs_removes_only_unfinished_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let value = data(8, 3 * CS as usize + 9);
        let write_raw = |id: u64, bytes: &[u8]| std::fs::write(d.join(blob_file_name(id)), bytes).unwrap();
        let header = |id: u64| encode_header(id, CS).to_vec();

        // Complete blobs: kept, also one with a damaged data chunk.
        write_blob(d, 1, CS, &value);
        write_blob(d, 2, CS, &[]);
        let damaged = write_blob(d, 3, CS, &value);
        flip(&damaged.path, 64 + 10);
        // Header + data, no footer (crash mid-write).
        write_raw(10, &[header(10), value.clone()].concat());
        // Header + data + preallocated zeroes.
        write_raw(11, &[header(11), value.clone(), vec![0u8; 3 * CS as usize]].concat());
        // Data, table and exact length durable, footer not yet written (zeroes).
        let f1 = std::fs::read(d.join(blob_file_name(1))).unwrap();
        let mut no_footer = f1.clone();
        let n = no_footer.len();
        no_footer[n - 32..].fill(0);
        no_footer[..64].copy_from_slice(&header(12));
        write_raw(12, &no_footer);
        // Torn footer (bad CRC).
        let mut torn = f1.clone();
        torn[..64].copy_from_slice(&header(13));
        torn[n - 1] ^= 1;
        write_raw(13, &torn);
        // Crash right after create: empty file, short file, zero header.
        write_raw(14, &[]);
        write_raw(15, &header(15)[..20]);
        write_raw(16, &[0u8; 64 + 4096]);
        // Kept: no footer and a damaged header, another version, or another id.
        let mut bad_hdr = header(20);
        bad_hdr[40] = 1;
        write_raw(20, &[bad_hdr, value.clone()].concat());
        let mut v2 = header(21);
        v2[BLOB_HEADER_VERSION_OFFSET] = 2;
        write_raw(21, &[v2, value.clone()].concat());
        write_raw(22, &[header(99), value.clone()].concat());
        // Not blob files: ignored.
        std::fs::write(d.join("blob-1.pkb"), b"junk").unwrap();
        std::fs::write(d.join("seg-0000000000000001.log"), b"junk").unwrap();
        std::fs::create_dir(d.join(blob_file_name(30))).unwrap();
        // A live writer's file.
        let w = BlobWriter::create(d, 40, CS).unwrap();

        let removed = remove_incomplete_blobs(d).unwrap();
        assert_eq!(removed, vec![10, 11, 12, 13, 14, 15, 16, 40]);
        for id in [10, 11, 12, 13, 14, 15, 16, 40] {
            assert!(!d.join(blob_file_name(id)).exists(), "{id}");
        }
        for id in [1, 2, 3, 20, 21, 22, 30] {
            assert!(d.join(blob_file_name(id)).exists(), "{id}");
        }
        assert!(d.join("blob-1.pkb").exists() && d.join("seg-0000000000000001.log").exists());
        open(d, 1).verify_all().unwrap();
        assert!(open(d, 2).is_empty());
        assert!(open(d, 3).verify_all().unwrap_err().is_corruption());
        drop(w); // its file is already gone; dropping must not panic
        assert_eq!(remove_incomplete_blobs(d).unwrap(), Vec::<u64>::new());
    }
}
