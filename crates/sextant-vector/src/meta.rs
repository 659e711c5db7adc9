//! The `CURRENT` file: which snapshot is live, plus what usearch does not store (the live key
//! list, the key watermark, the calibrated search settings).
//!
//! ```text
//!   0..8    magic b"SXVMETA\x01"
//!   8..12   format version (u32, = 1)
//!   12..16  dimensions (u32)
//!   16..24  epoch (u64): the snapshot covers every WAL epoch below this one
//!   24..32  max_key (u64)       32 has_max_key (u8)      33..40 reserved
//!   40..48  snapshot file length (u64)
//!   48..52  snapshot file crc32 (u32)
//!   52..56  calibrated expansion_search (u32, 0 = none)
//!   56      calibrated mode for unfiltered search (u8: 0 = HNSW, 1 = exact)
//!   57..64  reserved
//!   64..72  live key count n (u64)
//!   72..72+8n  live keys (u64 each)
//!   last 4  crc32 of everything before
//! ```
//!
//! Written to `CURRENT.tmp`, fsynced, renamed over `CURRENT`, directory fsynced: the rename is
//! the commit point of a checkpoint.

use std::path::Path;

use crate::{Result, VectorError};

const MAGIC: &[u8; 8] = b"SXVMETA\x01";
const VERSION: u32 = 1;
const FIXED: usize = 72;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Meta {
    pub dim: usize,
    pub epoch: u64,
    pub max_key: Option<u64>,
    pub snapshot_len: u64,
    pub snapshot_crc: u32,
    pub ef_search: usize,
    pub exact_all: bool,
    pub keys: Vec<u64>,
}

pub(crate) fn snapshot_name(epoch: u64) -> String {
    format!("snapshot-{epoch:016x}.usearch")
}

pub(crate) fn encode(m: &Meta) -> Vec<u8> {
    let mut b = Vec::with_capacity(FIXED + 8 * m.keys.len() + 4);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&(m.dim as u32).to_le_bytes());
    b.extend_from_slice(&m.epoch.to_le_bytes());
    b.extend_from_slice(&m.max_key.unwrap_or(0).to_le_bytes());
    b.push(m.max_key.is_some() as u8);
    b.extend_from_slice(&[0u8; 7]);
    b.extend_from_slice(&m.snapshot_len.to_le_bytes());
    b.extend_from_slice(&m.snapshot_crc.to_le_bytes());
    b.extend_from_slice(&(m.ef_search as u32).to_le_bytes());
    b.push(m.exact_all as u8);
    b.extend_from_slice(&[0u8; 7]);
    b.extend_from_slice(&(m.keys.len() as u64).to_le_bytes());
    debug_assert_eq!(b.len(), FIXED);
    for k in &m.keys {
        b.extend_from_slice(&k.to_le_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

pub(crate) fn decode(b: &[u8], path: &Path) -> Result<Meta> {
    let corrupt = |why: String| VectorError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        reason: why,
    };
    if b.len() < FIXED + 4 {
        return Err(corrupt(format!("meta file too short ({} bytes)", b.len())));
    }
    let (body, tail) = b.split_at(b.len() - 4);
    if u32::from_le_bytes(tail.try_into().unwrap()) != crc32fast::hash(body) {
        return Err(corrupt("meta checksum mismatch".into()));
    }
    if &body[0..8] != MAGIC {
        return Err(corrupt("bad meta magic".into()));
    }
    let u32_at = |at: usize| u32::from_le_bytes(body[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().unwrap());
    if u32_at(8) != VERSION {
        return Err(corrupt(format!("unsupported meta version {}", u32_at(8))));
    }
    let n = u64_at(64) as usize;
    if body.len() != FIXED + 8 * n {
        return Err(corrupt(format!("meta says {n} keys, length disagrees")));
    }
    Ok(Meta {
        dim: u32_at(12) as usize,
        epoch: u64_at(16),
        max_key: (body[32] != 0).then(|| u64_at(24)),
        snapshot_len: u64_at(40),
        snapshot_crc: u32_at(48),
        ef_search: u32_at(52) as usize,
        exact_all: body[56] != 0,
        keys: body[FIXED..]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_damage() {
        let m = Meta {
            dim: 384,
            epoch: 3,
            max_key: Some(99),
            snapshot_len: 12345,
            snapshot_crc: 0xdead_beef,
            ef_search: 256,
            exact_all: true,
            keys: vec![1, 5, 99],
        };
        let b = encode(&m);
        let p = Path::new("CURRENT");
        assert_eq!(decode(&b, p).unwrap(), m);
        for i in [0, 20, b.len() - 1] {
            let mut d = b.clone();
            d[i] ^= 1;
            assert!(decode(&d, p).is_err());
        }
        assert!(decode(&b[..b.len() - 8], p).is_err());
    }
}
