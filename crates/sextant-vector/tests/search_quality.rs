//! Recall and filtered-search correctness on 384-d data.

mod common;

use std::time::Instant;

use common::*;
use sextant_vector::{Filter, IndexOptions, VectorIndex};

const DIM: usize = 384;
const N: u64 = 20_000;

fn build(idx: &VectorIndex, data: &[(u64, Vec<f32>)]) {
    let t = Instant::now();
    for chunk in data.chunks(2_000) {
        idx.insert_batch(chunk).unwrap();
    }
    eprintln!("built {} x {DIM}: {:.2?}", data.len(), t.elapsed());
}

fn mean_recall(idx: &VectorIndex, queries: &[Vec<f32>], filter: Filter<'_>) -> f64 {
    let (mut hits, mut total) = (0, 0);
    for q in queries {
        let got = idx.search(q, 10, filter).unwrap();
        let truth = idx.exact_search(q, 10, filter).unwrap();
        let (h, t) = recall(&got, &truth);
        hits += h;
        total += t;
    }
    hits as f64 / total as f64
}

fn keys(v: &[(u64, f32)]) -> Vec<u64> {
    v.iter().map(|x| x.0).collect()
}

/// Uniformly random unit vectors, the worst case for HNSW. Calibration must find a setting
/// (a wide beam, or the exact scan) with recall@10 >= 0.95 against exact search.
#[test]
fn random_384d_recall_and_selective_filters() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(21);
    let data: Vec<(u64, Vec<f32>)> = (0..N).map(|k| (k, random_unit(&mut r, DIM))).collect();
    let idx = VectorIndex::open(dir.path(), DIM).unwrap();
    build(&idx, &data);
    let t = Instant::now();
    let cal = idx.calibrate().unwrap();
    eprintln!("calibration ({:.2?}): {cal:?}", t.elapsed());
    let queries: Vec<Vec<f32>> = (0..50).map(|_| random_unit(&mut r, DIM)).collect();
    let t = Instant::now();
    let rec = mean_recall(&idx, &queries, Filter::All);
    eprintln!(
        "random: recall@10 {rec:.3} ({:.2?} for 50 searches + 50 exact)",
        t.elapsed()
    );
    assert!(rec >= 0.95, "recall@10 {rec}");
    // The graph itself gets there too, with a wide beam (which is why calibration may prefer
    // the exact scan at this size: it is cheaper).
    let (ef, exact) = idx.search_settings();
    idx.set_search_settings(2048, false);
    let rec_graph = mean_recall(&idx, &queries, Filter::All);
    eprintln!("random: HNSW ef=2048 recall@10 {rec_graph:.3}");
    assert!(rec_graph >= 0.95, "HNSW recall@10 {rec_graph}");
    idx.set_search_settings(ef, exact);

    // Allowed: 300 keys (1.5%) -> exactly the true top-10 among them.
    let allowed: Vec<u64> = (0..N).filter(|k| k % 67 == 5).collect();
    for q in &queries[..10] {
        let got = idx.search(q, 10, Filter::Allowed(&allowed)).unwrap();
        let truth = brute_top_k(&data, q, 10, |k| k % 67 == 5);
        assert_eq!(keys(&got), keys(&truth));
        assert!(got
            .iter()
            .zip(&truth)
            .all(|(a, b)| (a.1 - b.1).abs() < 1e-4));
    }
    // Predicate keeping 1% of keys -> k correct results.
    let pred = |k: u64| k % 100 == 37;
    for q in &queries[..10] {
        let got = idx.search(q, 10, Filter::Predicate(&pred)).unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!(keys(&got), keys(&brute_top_k(&data, q, 10, pred)));
    }
    // Deleted keys never come back, whichever path answers.
    let q = &queries[0];
    let top: Vec<u64> = keys(&idx.exact_search(q, 20, Filter::All).unwrap());
    idx.remove(&top).unwrap();
    for f in [
        Filter::All,
        Filter::Allowed(&top),
        Filter::Predicate(&|_| true),
    ] {
        let got = idx.search(q, 10, f).unwrap();
        assert!(got.iter().all(|(k, _)| !top.contains(k)), "{f:?}: {got:?}");
    }
    assert!(idx.search(q, 10, Filter::Allowed(&top)).unwrap().is_empty());
}

/// Embedding-like (low intrinsic dimension) data: the default graph settings reach the recall
/// target without calibration, and filtered graph walks (forced by a low exact-scan limit)
/// return correct top-k, falling back to an exact scan when the walk comes up short.
#[test]
fn embedding_like_384d_recall_and_filtered_graph_search() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(22);
    let gen = LowRank::new(&mut r, DIM);
    let data: Vec<(u64, Vec<f32>)> = (0..N / 2).map(|k| (k, gen.sample(&mut r))).collect();
    let opts = IndexOptions {
        exact_filter_keys: 500,
        ..IndexOptions::default()
    };
    let idx = VectorIndex::open_with(dir.path(), DIM, opts.clone()).unwrap();
    build(&idx, &data);
    assert_eq!(idx.search_settings(), (128, false));
    let queries: Vec<Vec<f32>> = (0..50).map(|_| gen.sample(&mut r)).collect();
    let rec = mean_recall(&idx, &queries, Filter::All);
    eprintln!("embedding-like: recall@10 {rec:.3}");
    assert!(rec >= 0.95, "recall@10 {rec}");

    // 20% predicate: filtered HNSW walk.
    let pred = |k: u64| k % 5 == 2;
    let rec = mean_recall(&idx, &queries, Filter::Predicate(&pred));
    eprintln!("embedding-like, 20% predicate: recall@10 {rec:.3}");
    assert!(rec >= 0.9, "recall@10 {rec}");
    let allowed: Vec<u64> = (0..N / 2).filter(|k| k % 5 == 2).collect();
    let rec = mean_recall(&idx, &queries, Filter::Allowed(&allowed));
    assert!(rec >= 0.9, "recall@10 {rec}");

    // A predicate the sampler overrates (it accepts exactly the sampled positions' keys) and a
    // k larger than its match count: the graph walk comes up short, the exact scan answers.
    let keys_sorted = idx.keys();
    let sampled: std::collections::HashSet<u64> = (0..1024)
        .map(|i| keys_sorted[i * keys_sorted.len() / 1024])
        .collect();
    let pred = |k: u64| sampled.contains(&k);
    let got = idx
        .search(&queries[0], 2000, Filter::Predicate(&pred))
        .unwrap();
    let truth = brute_top_k(&data, &queries[0], 2000, pred);
    assert_eq!(got.len(), 1024);
    assert_eq!(keys(&got), keys(&truth));

    // Calibration on easy data keeps the graph and a modest beam; it persists.
    let cal = idx.calibrate().unwrap();
    eprintln!("calibration: {cal:?}");
    assert!(!cal.exact && cal.expansion_search <= 256, "{cal:?}");
    idx.checkpoint().unwrap();
    drop(idx);
    let idx = VectorIndex::open_with(dir.path(), DIM, opts).unwrap();
    assert_eq!(idx.search_settings(), (cal.expansion_search, false));
    let rec = mean_recall(&idx, &queries, Filter::All);
    assert!(rec >= 0.95, "recall@10 after reopen {rec}");
}
