//! File primitives: preallocation, mappings, positioned writes, directory sync.
//!
//! This is the only module of the engine that contains `unsafe` code. Mappings that readers
//! see are read-only (LMDB's discipline). The log is appended through a *second*, writable
//! mapping of the active segment ([`AppendMapping`]) — on filesystems where `fallocate`
//! really reserves blocks — or with `pwrite` elsewhere; either way only into space already
//! preallocated with `fallocate`, so a full disk is an error from the reservation and never a
//! `SIGBUS`. The engine never truncates or shrinks a file while it is mapped, and holds an
//! exclusive lock on the store directory so no other cooperating process writes the files. A
//! read-only mapping is only ever read in ranges that were fully written (and published
//! through the index) before the reader learned of them, so no byte a reader holds changes
//! underneath it; no `&[u8]` ever covers the writable mapping.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::os::unix::fs::FileExt;
use std::path::Path;

use memmap2::{Mmap, MmapMut, MmapOptions};

/// Reserves `len` bytes of disk space for `file` starting at `offset`, extending the file if
/// needed. After this, writes into the range cannot fail for lack of space, and a mapping of
/// the range is backed by real blocks (no SIGBUS on a full disk).
pub fn preallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        // Filesystems without fallocate (some tmpfs/overlay setups): fall back to writing
        // zeroes, which also allocates blocks and reports ENOSPC as an error.
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => write_zeroes(file, offset, len),
        Err(e) => Err(e.into()),
    }
}

fn write_zeroes(file: &File, mut offset: u64, len: u64) -> io::Result<()> {
    let zeroes = vec![0u8; 1 << 20];
    let end = offset + len;
    while offset < end {
        let n = ((end - offset) as usize).min(zeroes.len());
        file.write_all_at(&zeroes[..n], offset)?;
        offset += n as u64;
    }
    Ok(())
}

/// Writes all of `buf` at `offset` (a `pwrite` loop).
pub fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    file.write_all_at(buf, offset)
}

/// Reads exactly `buf.len()` bytes at `offset` (a `pread` loop).
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buf, offset)
}

/// fsyncs a directory, making file creations, renames and removals in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A read-only shared mapping of the first `len` bytes of a file.
///
/// Derefs to the mapped bytes. Dropping it unmaps; a file may be unlinked while mapped and
/// the mapping stays valid until the last holder drops it.
#[derive(Debug)]
pub struct MappedFile {
    map: Option<Mmap>,
}

impl MappedFile {
    /// Maps `len` bytes of `file` read-only. The caller must have written or preallocated
    /// the whole range (so that no page of the mapping is beyond end of file).
    pub fn map(file: &File, len: u64) -> io::Result<MappedFile> {
        if len == 0 {
            return Ok(MappedFile { map: None });
        }
        let file_len = file.metadata()?.len();
        if file_len < len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot map {len} bytes of a file of {file_len} bytes"),
            ));
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mapping too large for usize"))?;
        // SAFETY: the mapping is read-only and covers only bytes that exist in the file
        // (checked above: the file is at least `len` long and the engine never truncates a
        // mapped file). The store directory is exclusively locked, so no cooperating process
        // modifies the file; the engine itself only appends (with pwrite or through a
        // separate writable mapping, never through this one) into ranges no reader
        // has been handed yet. Readers therefore never observe bytes changing under a `&[u8]`.
        let map = unsafe { MmapOptions::new().len(len).map(file)? };
        Ok(MappedFile { map: Some(map) })
    }

    /// Advises the kernel that access will be random (no readahead).
    pub fn advise_random(&self) {
        if let Some(map) = &self.map {
            let _ = map.advise(memmap2::Advice::Random);
        }
    }
}

impl Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.map {
            Some(m) => m,
            None => &[],
        }
    }
}

/// A writable shared mapping of a file region, used only while *building* a new file that
/// no reader can see yet (e.g. an index run's hash table). Drop it, then fsync the file,
/// before publishing the file (an `msync` while mapped would interrupt every CPU of the
/// process once per page, see [`APPEND_WINDOW`]).
#[derive(Debug)]
pub struct MappedFileMut {
    map: MmapMut,
}

impl MappedFileMut {
    /// Maps `len` bytes of `file` at `offset` read-write. The range must be preallocated
    /// (see [`preallocate`]) so that stores into it cannot hit an unbacked page.
    pub fn map(file: &File, offset: u64, len: u64) -> io::Result<MappedFileMut> {
        let file_len = file.metadata()?.len();
        if offset.checked_add(len).is_none_or(|end| end > file_len) || len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot map {len} bytes at {offset} of a file of {file_len} bytes"),
            ));
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mapping too large for usize"))?;
        // SAFETY: the range lies within the file (checked above) and was preallocated by the
        // caller, so stores cannot fault on a full disk. The file is new and private to the
        // builder until it is published (renamed and recorded in the manifest), so no other
        // mapping or reader observes these bytes while they are mutated.
        let map = unsafe { MmapOptions::new().offset(offset).len(len).map_mut(file)? };
        Ok(MappedFileMut { map })
    }
}

impl Deref for MappedFileMut {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl std::ops::DerefMut for MappedFileMut {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }
}

/// Whether stores through a shared writable mapping of a file on the filesystem holding
/// `file` are safe from `SIGBUS` once the range was reserved with [`preallocate`]: true on
/// the filesystems that overwrite preallocated blocks in place (ext4, XFS, tmpfs). Copy-on-write
/// filesystems (btrfs, ZFS, bcachefs) may need new blocks for a write into a reserved range,
/// and network filesystems may fail a write back, so there the engine writes with `pwrite`,
/// which returns such failures as errors.
pub fn mapped_appends_safe(file: &File) -> bool {
    const EXT4: i64 = 0xEF53;
    const XFS: i64 = 0x5846_5342;
    const TMPFS: i64 = 0x0102_1994;
    match rustix::fs::fstatfs(file) {
        #[allow(clippy::unnecessary_cast)] // `f_type`'s width differs between targets
        Ok(st) => matches!(st.f_type as i64, EXT4 | XFS | TMPFS),
        Err(_) => false,
    }
}

/// Bytes of the file [`AppendMapping`] maps at a time (at least; a larger write gets a
/// window of its own size).
///
/// Why not the whole file: `fdatasync` write-protects every dirty page it writes back that
/// is mapped writable (`folio_mkclean`), flushing the TLB of every CPU that runs this
/// process for each page — an inter-processor interrupt per 4 KiB of log, landing on the
/// connection threads. `perf` put 8% of a write-heavy process's CPU there (`ptep_clear_flush`
/// → `smp_call_function_many_cond`) with the whole segment mapped. Pages left behind the
/// window are unmapped (one TLB flush per window), so the flusher finds at most this many
/// bytes mapped.
pub const APPEND_WINDOW: u64 = 1 << 20;

/// A writable shared mapping of a window of a file, through which the log writer appends.
///
/// It is a second mapping beside the read-only [`MappedFile`] of the same file: readers only
/// ever hold `&[u8]`s into the read-only one, and this one is written only by raw-pointer
/// copies, so no Rust reference covers memory stored into here. Both map the same page-cache
/// pages, so a reader sees an appended byte as soon as it is published, and `fdatasync` on
/// the file writes these pages back like any other dirty page. One copy replaces a `pwrite`
/// system call per commit (a small put: 1.8 -> 0.7 µs of CPU). Only the
/// [`APPEND_WINDOW`] around the latest write is mapped; a write past it moves the window.
#[derive(Debug)]
pub struct AppendMapping {
    /// A duplicate of the file's descriptor, to map further windows.
    file: File,
    /// The bytes of the file that may be written (mapped).
    len: u64,
    /// The mapped window: its offset in the file (page-aligned) and the mapping.
    window: Option<(u64, memmap2::MmapRaw)>,
}

impl AppendMapping {
    /// Prepares to write the first `len` bytes of `file` through shared mappings. The file
    /// must be at least `len` long (and stay so while this lives).
    pub fn map(file: &File, len: u64) -> io::Result<AppendMapping> {
        let file_len = file.metadata()?.len();
        if file_len < len || len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot map {len} bytes of a file of {file_len} bytes for appending"),
            ));
        }
        // Every window's length (at most `len`) is cast to `usize` in `write`.
        usize::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mapping too large for usize"))?;
        Ok(AppendMapping { file: file.try_clone()?, len, window: None })
    }

    /// Copies `buf` into the file at `offset`. The caller must have reserved the range with
    /// [`preallocate`] on a filesystem where [`mapped_appends_safe`] holds: a store into an
    /// unbacked page on a full disk raises `SIGBUS`. Errors (writing nothing) if the range
    /// does not lie within the first `len` bytes given to [`AppendMapping::map`], or if a
    /// new window cannot be mapped.
    pub fn write(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        let end = offset.checked_add(buf.len() as u64).filter(|&e| e <= self.len);
        let Some(end) = end else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("write of {} bytes at {offset} outside a mapping of {} bytes", buf.len(), self.len),
            ));
        };
        let covered = |(start, map): &(u64, memmap2::MmapRaw)| offset >= *start && end <= start + map.len() as u64;
        if !self.window.as_ref().is_some_and(covered) {
            // Unmap the old window first: its dirty pages stay dirty in the page cache.
            self.window = None;
            let page = rustix::param::page_size() as u64;
            let start = offset / page * page;
            let want = (end - start).max(APPEND_WINDOW).div_ceil(page) * page;
            let len = want.min(self.len - start) as usize;
            let map = MmapOptions::new().offset(start).len(len).map_raw(&self.file)?;
            // A write fault on a page not yet in the page cache otherwise reads around it a
            // whole readahead window (`read_ahead_kb`: 8 MiB here, zero-filled for reserved
            // blocks): 40 ms on the writer's thread, every client of its connections
            // stalled. One page per fault instead: a fault per 4 KiB of log.
            let _ = map.advise(memmap2::Advice::Random);
            self.window = Some((start, map));
        }
        let (start, map) = self.window.as_ref().expect("mapped above");
        let at = (offset - start) as usize;
        // SAFETY: `at + buf.len()` lies within the window's mapping (`covered`, or the window
        // just mapped from `offset`'s page to at least `end`), which stays mapped for as long
        // as `self.window` holds it. `&mut self` makes this the only store through this
        // mapping, and no Rust reference ever points into it (readers use a separate
        // read-only mapping), so the copy races with no access the compiler knows of; `buf`
        // is ordinary memory, so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), map.as_mut_ptr().add(at), buf.len()) };
        Ok(())
    }
}

/// Asks the CPU to start loading the cache line holding `byte` (a hint: it never faults and
/// never changes what a later read returns). Used to overlap the load of a value in the log
/// with the load of its index entry.
#[inline(always)]
pub fn prefetch(byte: &u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline, so the instruction exists; a prefetch
        // reads nothing into the program and cannot fault, and the pointer comes from a live
        // reference anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((byte as *const u8).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // An ordinary load the optimizer must keep: out-of-order execution overlaps it with
        // the entry's load just the same.
        std::hint::black_box(*byte);
    }
}

/// Asks the CPU to start loading the cache line at `addr`, an address computed, not a
/// reference: it may be stale (memory since freed) or wrong, which costs a useless load and
/// nothing else — on x86_64 a prefetch never faults. Elsewhere this does nothing (the
/// fallback of [`prefetch`], a real load, could fault on such an address).
#[inline(always)]
pub fn prefetch_addr(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline; PREFETCHT0 reads nothing into the
        // program and does not fault on any address (Intel SDM: "prefetches … do not
        // generate exceptions"), so a stale or invalid address is only a wasted hint.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(addr as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preallocate_map_and_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        preallocate(&file, 0, 8192).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 8192);
        let map = MappedFile::map(&file, 8192).unwrap();
        write_at(&file, b"hello", 100).unwrap();
        assert_eq!(&map[100..105], b"hello");
        assert!(MappedFile::map(&file, 8193).is_err());
        {
            let mut m = MappedFileMut::map(&file, 4096, 4096).unwrap();
            m[0..3].copy_from_slice(b"abc");
        }
        assert_eq!(&map[4096..4099], b"abc");
        let mut buf = [0u8; 3];
        read_at(&file, &mut buf, 4096).unwrap();
        assert_eq!(&buf, b"abc");
    }
}
