//! Crash recovery: torn WAL tails, interrupted checkpoints, corruption, kill -9.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use sextant_vector::{Filter, VectorError, VectorIndex};

const DIM: usize = 8;

fn batch(r: &mut rand::rngs::StdRng, keys: std::ops::Range<u64>) -> Vec<(u64, Vec<f32>)> {
    keys.map(|k| (k, random_unit(r, DIM))).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Asserts the index holds exactly `expect` (key -> vector).
fn assert_contents(idx: &VectorIndex, expect: &[(u64, Vec<f32>)]) {
    let mut want: Vec<u64> = expect.iter().map(|(k, _)| *k).collect();
    want.sort_unstable();
    assert_eq!(idx.keys(), want);
    for (k, v) in expect {
        let hit = idx.exact_search(v, 1, Filter::Allowed(&[*k])).unwrap();
        assert!(
            hit.len() == 1 && (hit[0].1 - 1.0).abs() < 1e-4,
            "key {k}: {hit:?}"
        );
    }
}

type Batch = Vec<(u64, Vec<f32>)>;

/// Applies inserts/removes to a model map, last write wins.
fn model(batches: &[(Batch, Vec<u64>)]) -> Batch {
    let mut m = std::collections::BTreeMap::new();
    for (ins, rem) in batches {
        for (k, v) in ins {
            m.insert(*k, v.clone());
        }
        for k in rem {
            m.remove(k);
        }
    }
    m.into_iter().collect()
}

/// Truncates the WAL at every byte offset inside its last batch (the last record included) and
/// reopens: the torn batch must vanish, everything before it must be intact, and the index must
/// accept writes afterwards. Run once with the WAL alone and once on top of a snapshot.
#[test]
fn torn_wal_tail_at_every_offset() {
    for with_snapshot in [false, true] {
        let base = tempfile::tempdir().unwrap();
        let src = base.path().join("src");
        let mut r = rng(11);
        let mut history = Vec::new();
        let mut ends = Vec::new();
        {
            let idx = VectorIndex::open(&src, DIM).unwrap();
            let b0 = batch(&mut r, 0..40);
            idx.insert_batch(&b0).unwrap();
            history.push((b0, vec![]));
            if with_snapshot {
                idx.checkpoint().unwrap();
            }
            let b1 = batch(&mut r, 30..60); // replaces 30..40
            idx.insert_batch(&b1).unwrap();
            assert_eq!(idx.remove(&[1, 2, 3]).unwrap(), 3);
            history.push((b1, vec![1, 2, 3]));
            ends.push(idx.wal_bytes());
            // the batch that will be torn: two replacements and three new keys
            let b2 = batch(&mut r, 58..63);
            idx.insert_batch(&b2).unwrap();
            history.push((b2, vec![]));
            ends.push(idx.wal_bytes());
        }
        let wal = src.join("wal.log");
        let full = std::fs::read(&wal).unwrap();
        let header = full.len() as u64 - ends[1];
        let (start, end) = (header + ends[0], header + ends[1]);
        let before = model(&history[..2]);
        let after = model(&history);
        for cut in start..=end {
            let dst = base.path().join(format!("cut{cut}"));
            copy_dir(&src, &dst);
            std::fs::write(dst.join("wal.log"), &full[..cut as usize]).unwrap();
            {
                let idx = VectorIndex::open(&dst, DIM).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
                let expect = if cut == end { &after } else { &before };
                assert_contents(&idx, expect);
                assert_eq!(idx.max_key(), Some(if cut == end { 62 } else { 59 }));
                // the torn bytes were cut off: a new batch appends cleanly
                idx.insert_batch(&[(1000, random_unit(&mut r, DIM))])
                    .unwrap();
            }
            if cut % 4 != 0 && cut != end {
                std::fs::remove_dir_all(&dst).unwrap();
                continue;
            }
            let idx = VectorIndex::open(&dst, DIM).unwrap();
            assert!(idx.contains(1000));
            assert_eq!(
                idx.len(),
                if cut == end {
                    after.len()
                } else {
                    before.len()
                } + 1
            );
            drop(idx);
            std::fs::remove_dir_all(&dst).unwrap();
        }
    }
}

#[test]
fn damage_before_the_last_batch_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(12);
    {
        let idx = VectorIndex::open(dir.path(), DIM).unwrap();
        idx.insert_batch(&batch(&mut r, 0..10)).unwrap();
        idx.insert_batch(&batch(&mut r, 10..20)).unwrap();
    }
    let wal = dir.path().join("wal.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[100] ^= 0x40; // inside the first batch's records
    std::fs::write(&wal, &bytes).unwrap();
    let e = VectorIndex::open(dir.path(), DIM).unwrap_err();
    assert!(matches!(e, VectorError::Corrupt { .. }), "{e}");
    // a damaged snapshot is caught by its checksum
    bytes[100] ^= 0x40;
    std::fs::write(&wal, &bytes).unwrap();
    VectorIndex::open(dir.path(), DIM)
        .unwrap()
        .checkpoint()
        .unwrap();
    let snap = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snapshot-")
        })
        .unwrap();
    let mut s = std::fs::read(&snap).unwrap();
    let n = s.len();
    s[n / 2] ^= 0x01;
    std::fs::write(&snap, &s).unwrap();
    let e = VectorIndex::open(dir.path(), DIM).unwrap_err();
    assert!(matches!(e, VectorError::Corrupt { .. }), "{e}");
}

/// The checkpoint's commit point is the rename of CURRENT. Simulate crashes on both sides of it
/// by restoring files from copies taken before the checkpoint.
#[test]
fn interrupted_checkpoint() {
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    let mut r = rng(13);
    let b0 = batch(&mut r, 0..50);
    let b1 = batch(&mut r, 25..75);
    let pre = base.path().join("pre");
    {
        let idx = VectorIndex::open(&src, DIM).unwrap();
        idx.insert_batch(&b0).unwrap();
        idx.checkpoint().unwrap();
        idx.insert_batch(&b1).unwrap();
        idx.remove(&[0, 74]).unwrap();
        drop(idx);
        copy_dir(&src, &pre);
        let idx = VectorIndex::open(&src, DIM).unwrap();
        idx.checkpoint().unwrap();
    }
    let expect = model(&[(b0, vec![]), (b1, vec![0, 74])]);
    // (a) crash after CURRENT was replaced but before the WAL was reset: the old WAL (older
    //     epoch) is still there. It must be ignored, not replayed on top.
    let a = base.path().join("a");
    copy_dir(&src, &a);
    std::fs::copy(pre.join("wal.log"), a.join("wal.log")).unwrap();
    {
        let idx = VectorIndex::open(&a, DIM).unwrap();
        assert_contents(&idx, &expect);
        assert_eq!(idx.wal_bytes(), 0);
        assert_eq!(idx.max_key(), Some(74));
    }
    // (b) crash before CURRENT was replaced: a new snapshot file and temp files lie around,
    //     CURRENT and the WAL are the old ones.
    let b = base.path().join("b");
    copy_dir(&pre, &b);
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("snapshot-") {
            std::fs::copy(e.path(), b.join(&name)).unwrap();
            std::fs::copy(e.path(), b.join(format!("{name}.tmp"))).unwrap();
        }
    }
    std::fs::write(b.join("CURRENT.tmp"), b"partial").unwrap();
    {
        let idx = VectorIndex::open(&b, DIM).unwrap();
        assert_contents(&idx, &expect);
        idx.checkpoint().unwrap();
    }
    let names: Vec<String> = std::fs::read_dir(&b)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| n.starts_with("snapshot-")).count(),
        1,
        "{names:?}"
    );
    assert_contents(&VectorIndex::open(&b, DIM).unwrap(), &expect);
}

// ---------------------------------------------------------------------------------------------
// kill -9: a child process (this test binary, re-run on `crash_child`) writes batches and
// reports each one after `insert_batch` returns; the parent SIGKILLs it at a random moment and
// checks that every reported batch survived.

const CHILD_ENV: &str = "SEXTANT_VECTOR_CRASH_CHILD_DIR";
const CHILD_DIM: usize = 32;

fn child_batch(seq: u64) -> Vec<(u64, Vec<f32>)> {
    let mut r = rng(1000 + seq);
    (0..50)
        .map(|i| (seq * 50 + i, random_unit(&mut r, CHILD_DIM)))
        .collect()
}

/// Not a test on its own: the crash test runs this binary again with only this selected.
#[test]
#[ignore = "helper run as a child process by the crash test"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let idx = VectorIndex::open(Path::new(&dir), CHILD_DIM).unwrap();
    // Redo the newest batch found: it may have been killed between its insert and its remove.
    let mut seq = idx.max_key().map_or(0, |k| k / 50);
    loop {
        idx.insert_batch(&child_batch(seq)).unwrap();
        if seq.is_multiple_of(3) {
            idx.remove(&[seq * 50]).unwrap();
        }
        println!("acked {seq}");
        if seq % 7 == 6 {
            idx.checkpoint().unwrap();
        }
        seq += 1;
    }
}

#[test]
fn kill_dash_nine_loses_no_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut r = rng(14);
    let mut acked: Option<u64> = None;
    for round in 0..6 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let stop_after = rand::Rng::random_range(&mut r, 2..25u64);
        let mut seen = 0;
        for line in out.lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("acked ") {
                acked = Some(n.trim().parse().unwrap());
                seen += 1;
                if seen >= stop_after {
                    break;
                }
            }
        }
        // Killed while it is in the middle of its next batch (or checkpoint).
        std::thread::sleep(std::time::Duration::from_micros(rand::Rng::random_range(
            &mut r,
            0..3000,
        )));
        child.kill().unwrap();
        child.wait().unwrap();
        let last = acked.expect("child acknowledged nothing");
        let idx = VectorIndex::open(dir.path(), CHILD_DIM)
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        for seq in 0..=last {
            let b = child_batch(seq);
            for (i, (k, v)) in b.iter().enumerate() {
                let removed = seq % 3 == 0 && i == 0;
                // a later batch may have been (partly) applied; it never touches these keys
                assert_eq!(
                    idx.contains(*k),
                    !removed,
                    "round {round}, batch {seq}, key {k}"
                );
                if !removed && i % 10 == 1 {
                    let hit = idx.exact_search(v, 1, Filter::Allowed(&[*k])).unwrap();
                    assert!((hit[0].1 - 1.0).abs() < 1e-4);
                }
            }
        }
        // a batch is all-or-nothing
        let beyond: Vec<u64> = idx
            .keys()
            .into_iter()
            .filter(|k| *k >= (last + 1) * 50)
            .collect();
        assert!(
            beyond.is_empty() || beyond.len() == 50 || beyond.len() == 49,
            "{beyond:?}"
        );
    }
}
