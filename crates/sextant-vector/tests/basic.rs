//! Insert / search / remove / reopen / replace / errors.

mod common;

use common::*;
use sextant_vector::{Filter, VectorError, VectorIndex};

fn unit(dim: usize, hot: usize) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[hot] = 1.0;
    v
}

#[test]
fn insert_search_remove_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 16;
    let mut r = rng(1);
    let data: Vec<(u64, Vec<f32>)> = (0..500u64)
        .map(|k| (k * 3 + 1, random_unit(&mut r, dim)))
        .collect();
    {
        let idx = VectorIndex::open(dir.path(), dim).unwrap();
        assert!(idx.is_empty());
        assert_eq!(idx.max_key(), None);
        assert!(idx.search(&data[0].1, 5, Filter::All).unwrap().is_empty());
        for chunk in data.chunks(100) {
            idx.insert_batch(chunk).unwrap();
        }
        assert_eq!(idx.len(), 500);
        assert_eq!(idx.dim(), dim);
        assert_eq!(idx.max_key(), Some(499 * 3 + 1));
        assert!(idx.contains(1) && !idx.contains(2));
        let hits = idx.search(&data[42].1, 3, Filter::All).unwrap();
        assert_eq!(hits[0].0, data[42].0);
        assert!((hits[0].1 - 1.0).abs() < 1e-4, "{hits:?}");
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));
        // remove: counts only present keys, duplicates once
        assert_eq!(
            idx.remove(&[data[42].0, data[42].0, 2, 9_999_999]).unwrap(),
            1
        );
        assert_eq!(idx.remove(&[data[42].0]).unwrap(), 0);
        let hits = idx.search(&data[42].1, 10, Filter::All).unwrap();
        assert!(hits.iter().all(|(k, _)| *k != data[42].0));
        assert_eq!(idx.len(), 499);
        // the watermark survives removal of the maximum
        idx.remove(&[499 * 3 + 1]).unwrap();
        assert_eq!(idx.max_key(), Some(499 * 3 + 1));
    }
    // reopen from the WAL alone
    let expect_keys: Vec<u64> = data
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| *k != data[42].0 && *k != 499 * 3 + 1)
        .collect();
    {
        let idx = VectorIndex::open(dir.path(), dim).unwrap();
        assert_eq!(idx.keys(), expect_keys);
        assert_eq!(idx.max_key(), Some(499 * 3 + 1));
        assert!(idx.wal_bytes() > 0);
        let hits = idx.exact_search(&data[7].1, 1, Filter::All).unwrap();
        assert_eq!(hits[0].0, data[7].0);
        idx.checkpoint().unwrap();
        assert_eq!(idx.wal_bytes(), 0);
        idx.insert_batch(&[(5_000, unit(dim, 3))]).unwrap();
    }
    // reopen from snapshot + WAL
    {
        let idx = VectorIndex::open(dir.path(), dim).unwrap();
        assert_eq!(idx.len(), expect_keys.len() + 1);
        assert_eq!(idx.max_key(), Some(5_000));
        assert!(!idx.contains(data[42].0));
        let hits = idx.search(&unit(dim, 3), 1, Filter::All).unwrap();
        assert_eq!(hits[0].0, 5_000);
        for (k, v) in data
            .iter()
            .filter(|(k, _)| expect_keys.contains(k))
            .take(50)
        {
            assert_eq!(idx.exact_search(v, 1, Filter::All).unwrap()[0].0, *k);
        }
        idx.checkpoint().unwrap();
        idx.checkpoint().unwrap(); // a checkpoint with nothing new is fine
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("snapshot-")).count(),
        1,
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn replacing_a_key_keeps_one_entry_with_the_new_vector() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 8;
    let idx = VectorIndex::open(dir.path(), dim).unwrap();
    idx.insert_batch(&[(1, unit(dim, 0)), (2, unit(dim, 1))])
        .unwrap();
    idx.insert_batch(&[(1, unit(dim, 5))]).unwrap();
    assert_eq!(idx.len(), 2);
    let hits = idx.search(&unit(dim, 5), 2, Filter::All).unwrap();
    assert_eq!(hits[0].0, 1);
    assert!((hits[0].1 - 1.0).abs() < 1e-5);
    assert!(idx.search(&unit(dim, 0), 1, Filter::All).unwrap()[0].1 < 0.5);
    // within one batch, the last vector for a key wins
    idx.insert_batch(&[(3, unit(dim, 6)), (3, unit(dim, 7))])
        .unwrap();
    assert_eq!(idx.len(), 3);
    // unnormalised input is normalised
    idx.insert_batch(&[(4, vec![0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0])])
        .unwrap();
    let h = idx
        .exact_search(&[0.0, 0.0, 0.6, 0.8, 0.0, 0.0, 0.0, 0.0], 1, Filter::All)
        .unwrap();
    assert_eq!(h[0].0, 4);
    assert!((h[0].1 - 1.0).abs() < 1e-5);
    drop(idx);
    for round in 0..2 {
        let idx = VectorIndex::open(dir.path(), dim).unwrap();
        assert_eq!(idx.keys(), vec![1, 2, 3, 4], "round {round}");
        assert_eq!(idx.search(&unit(dim, 5), 1, Filter::All).unwrap()[0].0, 1);
        assert_eq!(idx.search(&unit(dim, 7), 1, Filter::All).unwrap()[0].0, 3);
        assert!(idx.search(&unit(dim, 6), 1, Filter::All).unwrap()[0].1 < 0.5);
        idx.checkpoint().unwrap();
        // replace after the snapshot, too
        idx.insert_batch(&[(2, unit(dim, 1))]).unwrap();
    }
}

#[test]
fn dimension_mismatch_and_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let idx = VectorIndex::open(dir.path(), 4).unwrap();
    let e = idx.insert_batch(&[(1, vec![1.0; 5])]).unwrap_err();
    assert!(
        matches!(
            e,
            VectorError::DimensionMismatch {
                expected: 4,
                got: 5
            }
        ),
        "{e}"
    );
    let e = idx.search(&[1.0; 3], 1, Filter::All).unwrap_err();
    assert!(
        matches!(
            e,
            VectorError::DimensionMismatch {
                expected: 4,
                got: 3
            }
        ),
        "{e}"
    );
    let e = idx.exact_search(&[1.0; 3], 1, Filter::All).unwrap_err();
    assert!(matches!(e, VectorError::DimensionMismatch { .. }), "{e}");
    assert!(matches!(
        idx.insert_batch(&[(1, vec![f32::NAN, 0.0, 0.0, 1.0])])
            .unwrap_err(),
        VectorError::InvalidInput(_)
    ));
    assert!(matches!(
        idx.insert_batch(&[(u64::MAX, vec![1.0; 4])]).unwrap_err(),
        VectorError::InvalidInput(_)
    ));
    // a rejected batch writes nothing
    assert!(idx.is_empty());
    assert_eq!(idx.wal_bytes(), 0);
    idx.insert_batch(&[(1, vec![1.0; 4])]).unwrap();
    // a second handle on the same directory is refused while the first is open
    assert!(VectorIndex::open(dir.path(), 4).is_err());
    drop(idx);
    let e = VectorIndex::open(dir.path(), 8).unwrap_err();
    assert!(
        matches!(
            e,
            VectorError::DimensionMismatch {
                expected: 4,
                got: 8
            }
        ),
        "{e}"
    );
    {
        let idx = VectorIndex::open(dir.path(), 4).unwrap();
        idx.checkpoint().unwrap();
    }
    let e = VectorIndex::open(dir.path(), 8).unwrap_err();
    assert!(
        matches!(
            e,
            VectorError::DimensionMismatch {
                expected: 4,
                got: 8
            }
        ),
        "{e}"
    );
    assert_eq!(VectorIndex::open(dir.path(), 4).unwrap().len(), 1);
}

#[test]
fn filters_and_deletes_on_a_small_index() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 32;
    let mut r = rng(2);
    let data: Vec<(u64, Vec<f32>)> = (0..3000u64)
        .map(|k| (k, random_unit(&mut r, dim)))
        .collect();
    let idx = VectorIndex::open(dir.path(), dim).unwrap();
    idx.insert_batch(&data).unwrap();
    let removed: Vec<u64> = (0..3000).step_by(7).collect();
    idx.remove(&removed).unwrap();
    let live = |k: u64| !k.is_multiple_of(7);
    for qi in 0..20 {
        let q = random_unit(&mut r, dim);
        // All
        let got = idx.search(&q, 10, Filter::All).unwrap();
        assert!(got.iter().all(|(k, _)| live(*k)));
        let ex = idx.exact_search(&q, 10, Filter::All).unwrap();
        let truth = brute_top_k(&data, &q, 10, live);
        assert_eq!(keys(&ex), keys(&truth), "query {qi}");
        // Allowed, including removed and unknown keys
        let allowed: Vec<u64> = (0..3000)
            .filter(|k| k % 5 == 0)
            .chain([70_000, 7])
            .collect();
        let got = idx.search(&q, 10, Filter::Allowed(&allowed)).unwrap();
        let truth = brute_top_k(&data, &q, 10, |k| k % 5 == 0 && live(k));
        assert_eq!(keys(&got), keys(&truth));
        for ((_, a), (_, b)) in got.iter().zip(&truth) {
            assert!((a - b).abs() < 1e-4);
        }
        // Predicate
        let pred = |k: u64| k % 3 == 1;
        let got = idx.search(&q, 10, Filter::Predicate(&pred)).unwrap();
        let truth = brute_top_k(&data, &q, 10, |k| pred(k) && live(k));
        assert_eq!(keys(&got), keys(&truth));
        assert_eq!(
            keys(&idx.exact_search(&q, 10, Filter::Predicate(&pred)).unwrap()),
            keys(&truth)
        );
    }
    // fewer matches than k
    let got = idx
        .search(&data[1].1, 10, Filter::Allowed(&[1, 2, 7]))
        .unwrap();
    assert_eq!(keys(&got).len(), 2);
    assert_eq!(got[0].0, 1);
    assert!(idx
        .search(&data[1].1, 10, Filter::Predicate(&|_| false))
        .unwrap()
        .is_empty());
    assert!(idx.search(&data[1].1, 0, Filter::All).unwrap().is_empty());
    // k larger than the index: everything, best first
    let all = idx.search(&data[1].1, usize::MAX, Filter::All).unwrap();
    assert_eq!(all.len(), idx.len());
    assert_eq!(all[0].0, 1);
    assert!(all.windows(2).all(|w| w[0].1 >= w[1].1));
}

fn keys(v: &[(u64, f32)]) -> Vec<u64> {
    v.iter().map(|x| x.0).collect()
}
