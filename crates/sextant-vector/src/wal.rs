//! Append-only write-ahead log of index mutations.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! file header, 32 bytes:
//!   0..8   magic  b"SXVWAL\0\x01"
//!   8..12  format version (u32, = 1)
//!   12..16 dimensions (u32)
//!   16..24 epoch (u64): the snapshot generation this log continues
//!   24..28 reserved (0)
//!   28..32 crc32 of bytes 0..28
//!
//! then batches; one batch per `insert_batch` / `remove` call, fsynced as a unit:
//!   BEGIN  record: crc u32 | op=1 u8 | 0 u8 x3 | record count u64 | body length u64      (24 bytes)
//!   INSERT record: crc u32 | op=2 u8 | 0 u8 x3 | key u64          | dim x f32            (16 + 4*dim)
//!   REMOVE record: crc u32 | op=3 u8 | 0 u8 x3 | key u64                                 (16 bytes)
//! ```
//!
//! Every record carries a crc32 of its bytes after the crc field. The BEGIN record states the
//! byte length of the records that follow it, so the reader knows where the batch must end.
//!
//! Recovery rules (`replay`):
//! * the first batch that is incomplete (runs past EOF) or fails verification (checksum, op,
//!   record count) ends the log. If no intact BEGIN record can be found anywhere after it, it is
//!   the torn final append of a crash: it is cut off (the file is truncated to the end of the
//!   previous batch). This covers a plain short write, a zero-filled tail (blocks allocated but
//!   never written) and pages of the last write persisted out of order;
//! * if an intact batch follows the damaged one, the damage is in the middle of the log, which
//!   no crash produces (every earlier batch was fsynced): [`VectorError::Corrupt`].
//!
//! A batch is applied only when all its records verify, so a crashed `insert_batch` is
//! all-or-nothing after recovery.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::{Result, VectorError};

pub(crate) const MAGIC: &[u8; 8] = b"SXVWAL\0\x01";
pub(crate) const VERSION: u32 = 1;
pub(crate) const HEADER_LEN: u64 = 32;
pub(crate) const REC_HEAD: usize = 16;
pub(crate) const BEGIN_LEN: usize = 24;

const OP_BEGIN: u8 = 1;
const OP_INSERT: u8 = 2;
const OP_REMOVE: u8 = 3;

/// One logged mutation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Insert(u64, Vec<f32>),
    Remove(u64),
}

impl Op {
    pub(crate) fn key(&self) -> u64 {
        match self {
            Op::Insert(k, _) | Op::Remove(k) => *k,
        }
    }
}

pub(crate) fn record_len(op: &Op, dim: usize) -> usize {
    match op {
        Op::Insert(..) => REC_HEAD + 4 * dim,
        Op::Remove(_) => REC_HEAD,
    }
}

fn put_record(buf: &mut Vec<u8>, op: u8, key: u64, payload: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; 4]);
    buf.push(op);
    buf.extend_from_slice(&[0u8; 3]);
    buf.extend_from_slice(&key.to_le_bytes());
    payload(buf);
    let crc = crc32fast::hash(&buf[start + 4..]);
    buf[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Serialises one batch (BEGIN + records).
pub(crate) fn encode_batch(ops: &[Op], dim: usize) -> Vec<u8> {
    let body: usize = ops.iter().map(|o| record_len(o, dim)).sum();
    let mut buf = Vec::with_capacity(BEGIN_LEN + body);
    put_record(&mut buf, OP_BEGIN, ops.len() as u64, |b| {
        b.extend_from_slice(&(body as u64).to_le_bytes())
    });
    for op in ops {
        match op {
            Op::Insert(key, v) => {
                debug_assert_eq!(v.len(), dim);
                put_record(&mut buf, OP_INSERT, *key, |b| {
                    for x in v {
                        b.extend_from_slice(&x.to_le_bytes());
                    }
                })
            }
            Op::Remove(key) => put_record(&mut buf, OP_REMOVE, *key, |_| {}),
        }
    }
    debug_assert_eq!(buf.len(), BEGIN_LEN + body);
    buf
}

pub(crate) fn encode_header(dim: usize, epoch: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(dim as u32).to_le_bytes());
    h[16..24].copy_from_slice(&epoch.to_le_bytes());
    let crc = crc32fast::hash(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Parsed WAL header.
pub(crate) struct Header {
    pub dim: usize,
    pub epoch: u64,
}

pub(crate) fn decode_header(h: &[u8], path: &Path) -> Result<Header> {
    let corrupt = |why: &str| VectorError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        reason: why.to_string(),
    };
    if h.len() < HEADER_LEN as usize {
        return Err(corrupt("short WAL header"));
    }
    if &h[0..8] != MAGIC {
        return Err(corrupt("bad WAL magic"));
    }
    let crc = u32::from_le_bytes(h[28..32].try_into().unwrap());
    if crc != crc32fast::hash(&h[0..28]) {
        return Err(corrupt("WAL header checksum mismatch"));
    }
    let version = u32::from_le_bytes(h[8..12].try_into().unwrap());
    if version != VERSION {
        return Err(corrupt(&format!("unsupported WAL version {version}")));
    }
    Ok(Header {
        dim: u32::from_le_bytes(h[12..16].try_into().unwrap()) as usize,
        epoch: u64::from_le_bytes(h[16..24].try_into().unwrap()),
    })
}

/// Creates `path` atomically as an empty log (header only): write `path.tmp`, fsync, rename,
/// fsync the directory. Returns the open file, positioned for appends at [`HEADER_LEN`].
pub(crate) fn create(dir: &Path, path: &Path, dim: usize, epoch: u64) -> Result<File> {
    let tmp = path.with_extension("log.tmp");
    {
        let f = File::create(&tmp)?;
        f.write_all_at(&encode_header(dim, epoch), 0)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    crate::fsync_dir(dir)?;
    Ok(OpenOptions::new().read(true).write(true).open(path)?)
}

/// Outcome of scanning a log.
pub(crate) struct Replay {
    /// Length of the valid prefix (where the next append goes).
    pub valid_len: u64,
    /// Bytes after it: a torn tail to cut off (0 when the log was clean).
    pub torn_bytes: u64,
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn rd_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Reads and verifies the batches after the header one at a time (memory: one batch), handing
/// each verified batch to `on_batch` in log order. Does not modify the file. On `Corrupt`, some
/// batches may already have been handed over.
pub(crate) fn scan(
    file: &File,
    path: &Path,
    dim: usize,
    mut on_batch: impl FnMut(Vec<Op>) -> Result<()>,
) -> Result<Replay> {
    let len = file.metadata()?.len();
    let corrupt = |offset: u64, why: String| VectorError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: why,
    };
    let ins_len = REC_HEAD + 4 * dim;
    let mut pos = HEADER_LEN;
    let mut body = Vec::new();
    'log: while pos < len {
        let failure: (u64, String) = 'batch: {
            let mut head = [0u8; BEGIN_LEN];
            if len - pos < BEGIN_LEN as u64 {
                break 'batch (pos, "file ends inside a batch header".into());
            }
            file.read_exact_at(&mut head, pos)?;
            let crc_ok = rd_u32(&head, 0) == crc32fast::hash(&head[4..]);
            if !crc_ok || head[4] != OP_BEGIN {
                break 'batch (pos, "bad batch header (checksum or op)".into());
            }
            let count = rd_u64(&head, 8);
            let body_len = rd_u64(&head, 16);
            let end = match (pos + BEGIN_LEN as u64).checked_add(body_len) {
                Some(e) if e <= len => e,
                _ => break 'batch (pos, "batch runs past end of file".into()),
            };
            body.resize(body_len as usize, 0);
            file.read_exact_at(&mut body, pos + BEGIN_LEN as u64)?;
            match parse_body(&body, count, ins_len) {
                Ok(ops) => {
                    on_batch(ops)?;
                    pos = end;
                    continue 'log;
                }
                Err((at, why)) => break 'batch (pos + (BEGIN_LEN + at) as u64, why),
            }
        };
        // The batch at `pos` is damaged or incomplete. If an intact batch header follows it, the
        // damage is in the middle of the log: corruption. Otherwise it is the torn final append.
        let mut rest = Vec::new();
        let mut f = file;
        f.seek(SeekFrom::Start(pos))?;
        f.read_to_end(&mut rest)?;
        if let Some(next) = find_begin(&rest, 1) {
            return Err(corrupt(
                failure.0,
                format!(
                    "{} (an intact batch follows at offset {})",
                    failure.1,
                    pos + next as u64
                ),
            ));
        }
        break;
    }
    Ok(Replay {
        valid_len: pos,
        torn_bytes: len - pos,
    })
}

/// Offset of the first verifiable BEGIN record at or after `from`, scanning every byte offset
/// (only used on the failure path).
fn find_begin(data: &[u8], from: usize) -> Option<usize> {
    (from..data.len().saturating_sub(BEGIN_LEN - 1)).find(|&at| {
        let r = &data[at..at + BEGIN_LEN];
        r[4] == OP_BEGIN && r[5..8] == [0, 0, 0] && rd_u32(r, 0) == crc32fast::hash(&r[4..])
    })
}

fn parse_body(
    body: &[u8],
    count: u64,
    ins_len: usize,
) -> std::result::Result<Vec<Op>, (usize, String)> {
    let mut ops = Vec::with_capacity(count.min(1 << 20) as usize);
    let mut at = 0usize;
    while at < body.len() {
        let rest = &body[at..];
        if rest.len() < REC_HEAD {
            return Err((at, "record header runs past batch end".into()));
        }
        let rlen = match rest[4] {
            OP_INSERT => ins_len,
            OP_REMOVE => REC_HEAD,
            op => return Err((at, format!("unknown record op {op}"))),
        };
        if rest.len() < rlen {
            return Err((at, "record runs past batch end".into()));
        }
        if rd_u32(rest, 0) != crc32fast::hash(&rest[4..rlen]) {
            return Err((at, "record checksum mismatch".into()));
        }
        let key = rd_u64(rest, 8);
        if rest[4] == OP_INSERT {
            let v = rest[REC_HEAD..rlen]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            ops.push(Op::Insert(key, v));
        } else {
            ops.push(Op::Remove(key));
        }
        at += rlen;
    }
    if ops.len() as u64 != count {
        return Err((
            0,
            format!("batch holds {} records, header says {count}", ops.len()),
        ));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dim: usize) -> Vec<Op> {
        vec![
            Op::Insert(7, (0..dim).map(|i| i as f32).collect()),
            Op::Remove(3),
            Op::Insert(u64::MAX - 1, vec![0.5; dim]),
        ]
    }

    fn scan_all(path: &Path, dim: usize) -> Result<(Replay, Vec<Vec<Op>>)> {
        let mut got = Vec::new();
        let r = scan(&File::open(path)?, path, dim, |b| {
            got.push(b);
            Ok(())
        })?;
        Ok((r, got))
    }

    fn write(path: &Path, batches: &[Vec<Op>], dim: usize) -> Vec<u64> {
        let f = create(path.parent().unwrap(), path, dim, 9).unwrap();
        let mut off = HEADER_LEN;
        let mut ends = vec![];
        for b in batches {
            let buf = encode_batch(b, dim);
            f.write_all_at(&buf, off).unwrap();
            off += buf.len() as u64;
            ends.push(off);
        }
        ends
    }

    #[test]
    fn roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let batches = vec![sample(4), vec![Op::Remove(1)]];
        write(&path, &batches, 4);
        let mut f = File::open(&path).unwrap();
        let mut h = [0u8; 32];
        f.read_exact(&mut h).unwrap();
        let hd = decode_header(&h, &path).unwrap();
        assert_eq!((hd.dim, hd.epoch), (4, 9));
        let (r, got) = scan_all(&path, 4).unwrap();
        assert_eq!(got, batches);
        assert_eq!(r.torn_bytes, 0);
    }

    #[test]
    fn torn_tail_every_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let batches = vec![sample(3), sample(3)];
        let ends = write(&path, &batches, 3);
        let full = std::fs::read(&path).unwrap();
        for cut in ends[0]..ends[1] {
            std::fs::write(&path, &full[..cut as usize]).unwrap();
            let (r, got) = scan_all(&path, 3).unwrap();
            assert_eq!(got.len(), 1, "cut at {cut}");
            assert_eq!(r.valid_len, ends[0]);
        }
    }

    #[test]
    fn damage_in_last_batch_is_torn_in_middle_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let batches = vec![sample(3), sample(3)];
        let ends = write(&path, &batches, 3);
        let full = std::fs::read(&path).unwrap();
        // flip a byte in the last record of the last batch: torn
        let mut d = full.clone();
        d[ends[1] as usize - 2] ^= 0xff;
        std::fs::write(&path, &d).unwrap();
        let (r, got) = scan_all(&path, 3).unwrap();
        assert_eq!((got.len(), r.valid_len), (1, ends[0]));
        // zeroed tail: torn
        let mut d = full.clone();
        for b in &mut d[ends[0] as usize..] {
            *b = 0;
        }
        std::fs::write(&path, &d).unwrap();
        let (r, got) = scan_all(&path, 3).unwrap();
        assert_eq!((got.len(), r.valid_len), (1, ends[0]));
        // damaged header of the last batch: torn
        let mut d = full.clone();
        d[ends[0] as usize + 9] ^= 0x01;
        std::fs::write(&path, &d).unwrap();
        let (r, got) = scan_all(&path, 3).unwrap();
        assert_eq!((got.len(), r.valid_len), (1, ends[0]));
        // flip a byte in the first batch: corrupt
        let mut d = full.clone();
        d[ends[0] as usize - 2] ^= 0xff;
        std::fs::write(&path, &d).unwrap();
        let e = scan_all(&path, 3).err().unwrap();
        assert!(matches!(e, VectorError::Corrupt { .. }), "{e}");
        // damaged batch header with a batch after it: corrupt
        let mut d = full.clone();
        d[HEADER_LEN as usize + 9] ^= 0x01;
        std::fs::write(&path, &d).unwrap();
        let e = scan_all(&path, 3).err().unwrap();
        assert!(matches!(e, VectorError::Corrupt { .. }), "{e}");
    }
}
