//! Ranking metrics over document ids, as BEIR computes them: nDCG@k (graded relevance,
//! log2 discount), Recall@k and MRR@k.

use std::collections::HashMap;

/// Relevance judgements of one query: document id -> grade (> 0 is relevant).
pub type Qrels = HashMap<String, u32>;

pub fn ndcg_at(ranked: &[String], qrels: &Qrels, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| qrels.get(d).copied().unwrap_or(0) as f64 / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<u32> = qrels.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| g as f64 / (i as f64 + 2.0).log2())
        .sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

pub fn recall_at(ranked: &[String], qrels: &Qrels, k: usize) -> f64 {
    let relevant = qrels.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|d| qrels.get(*d).is_some_and(|&g| g > 0))
        .count();
    found as f64 / relevant as f64
}

pub fn mrr_at(ranked: &[String], qrels: &Qrels, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|d| qrels.get(d).is_some_and(|&g| g > 0))
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, u32)]) -> Qrels {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }
    fn r(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        let qr = q(&[("a", 1), ("b", 1)]);
        assert_eq!(ndcg_at(&r(&["a", "b", "c"]), &qr, 10), 1.0);
        let n = ndcg_at(&r(&["c", "a"]), &qr, 10);
        let want = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((n - want).abs() < 1e-12);
        assert_eq!(recall_at(&r(&["c", "a"]), &qr, 1), 0.0);
        assert_eq!(recall_at(&r(&["c", "a"]), &qr, 2), 0.5);
        assert_eq!(mrr_at(&r(&["c", "a"]), &qr, 10), 0.5);
        assert_eq!(mrr_at(&r(&["c", "d"]), &qr, 10), 0.0);
        assert_eq!(ndcg_at(&r(&["a"]), &q(&[]), 10), 0.0);
    }
}
