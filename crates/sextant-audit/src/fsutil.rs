//! File plumbing for the log: advisory `flock`, creation with a durable directory entry, and
//! reading lines backwards from the end (appends only need the last record, `tail` the last few,
//! and neither should read a log that grows for years from the start).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Block size for backward scans: a typical record (well under a kilobyte) is found in one read.
const BLOCK: usize = 8 * 1024;

/// An advisory lock held on an open file (std's `File::lock`, `flock` on Linux), released on
/// drop.
///
/// `flock` locks belong to the open file description, so two `File`s opened separately (even in
/// one process) exclude each other, which is what lets two `AuditLog` handles or two processes
/// share one log. Threads sharing one `File` are serialised by the caller's mutex instead.
pub(crate) struct Flock<'a> {
    file: &'a File,
}

impl<'a> Flock<'a> {
    /// Blocks until the lock is granted.
    pub(crate) fn exclusive(file: &'a File) -> io::Result<Flock<'a>> {
        Self::acquire(file, File::lock)
    }

    /// Blocks until no writer holds the lock; readers use it to see the file at a record boundary.
    pub(crate) fn shared(file: &'a File) -> io::Result<Flock<'a>> {
        Self::acquire(file, File::lock_shared)
    }

    fn acquire(file: &'a File, lock: fn(&File) -> io::Result<()>) -> io::Result<Flock<'a>> {
        loop {
            match lock(file) {
                Ok(()) => return Ok(Flock { file }),
                // A signal can interrupt the wait; that is not a reason to give up on auditing.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        // An unlock can only fail on a bad descriptor, and closing the file releases the lock
        // anyway, so the result is ignored.
        let _ = self.file.unlock();
    }
}

/// Opens `path` for reading and appending, creating it with mode 0600 (audit records are
/// protected information, AU-9). When the file is new, the parent directory is fsynced so the
/// file's name survives a crash together with the records fsynced into it.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    let existed = path.try_exists().unwrap_or(true);
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    if !existed {
        sync_parent_dir(path)?;
    }
    Ok(file)
}

fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match File::open(parent)?.sync_all() {
        // Some filesystems cannot fsync a directory; there is nothing more to do on them.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOTSUP)) => Ok(()),
        other => other,
    }
}

/// Offset of the last `\n` in `[0, before)`, if any.
pub(crate) fn rfind_newline(file: &File, before: u64) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; BLOCK];
    let mut end = before;
    while end > 0 {
        let start = end.saturating_sub(BLOCK as u64);
        // At most BLOCK, so the cast cannot truncate.
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

/// End of the last complete (newline-terminated) line in the first `len` bytes: `len` itself when
/// the file ends with a newline, less when a torn line follows.
pub(crate) fn complete_end(file: &File, len: u64) -> io::Result<u64> {
    if len == 0 {
        return Ok(0);
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(len);
    }
    Ok(rfind_newline(file, len - 1)?.map_or(0, |p| p + 1))
}

/// The line that ends (with its newline) at `end`, which must be 0 or just after a newline:
/// returns its start offset and its length without the newline, or `None` when `end` is 0.
pub(crate) fn line_before(file: &File, end: u64) -> io::Result<Option<(u64, u64)>> {
    if end == 0 {
        return Ok(None);
    }
    let newline = end - 1;
    let start = rfind_newline(file, newline)?.map_or(0, |p| p + 1);
    Ok(Some((start, newline - start)))
}

/// Reads `len` bytes at `offset`.
pub(crate) fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| io::Error::other("line too long to read"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}
