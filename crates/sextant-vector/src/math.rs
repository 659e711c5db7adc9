//! Small numeric helpers: dot product, normalisation, top-k selection.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Dot product. Uses AVX2+FMA when the crate is compiled for a CPU that has them (the
/// workspace builds for x86-64-v3), otherwise a portable 8-lane loop.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    {
        // SAFETY: the target features are enabled at compile time; loads are unaligned and
        // stay within the slices (i + 8 <= n).
        unsafe { dot_avx2(a, b) }
    }
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    )))]
    {
        dot_portable(a, b)
    }
}

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
#[inline]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
        acc1 = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i + 8)),
            _mm256_loadu_ps(pb.add(i + 8)),
            acc1,
        );
        i += 16;
    }
    if i + 8 <= n {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
        i += 8;
    }
    let acc = _mm256_add_ps(acc0, acc1);
    let hi = _mm256_extractf128_ps(acc, 1);
    let lo = _mm256_castps256_ps128(acc);
    let s = _mm_add_ps(hi, lo);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    let mut sum = _mm_cvtss_f32(s);
    while i < n {
        sum += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    sum
}

#[allow(dead_code)]
pub(crate) fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Returns `v / |v|` (accumulating the norm in f64). A zero vector stays zero.
pub(crate) fn normalized(v: &[f32]) -> Vec<f32> {
    let n2: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
    if n2 == 0.0 {
        return v.to_vec();
    }
    let inv = (1.0 / n2.sqrt()) as f32;
    v.iter().map(|&x| x * inv).collect()
}

/// A scored candidate, ordered so that the *worst* one sits on top of a max-heap:
/// lower similarity is "greater"; among equal similarities the larger key is worse.
#[derive(Clone, Copy, Debug)]
struct Worst(f32, u64);

impl PartialEq for Worst {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Worst {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(self.1.cmp(&o.1))
    }
}

/// Keeps the `k` best (highest similarity, then lowest key) of a stream of candidates.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, key: u64, sim: f32) {
        if self.k == 0 {
            return;
        }
        let c = Worst(sim, key);
        if self.heap.len() < self.k {
            self.heap.push(c);
        } else if c < *self.heap.peek().unwrap() {
            self.heap.pop();
            self.heap.push(c);
        }
    }

    /// Best first.
    pub(crate) fn into_sorted(self) -> Vec<(u64, f32)> {
        let mut v = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|Worst(s, k)| (k, s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive() {
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 33, 384] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n={n}");
            assert!((dot_portable(&a, &b) - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn topk_orders_best_first_and_breaks_ties_by_key() {
        let mut t = TopK::new(3);
        for (k, s) in [(5, 0.1), (1, 0.9), (9, 0.5), (3, 0.5), (2, 0.95), (4, -1.0)] {
            t.push(k, s);
        }
        assert_eq!(t.into_sorted(), vec![(2, 0.95), (1, 0.9), (3, 0.5)]);
        let mut t = TopK::new(0);
        t.push(1, 1.0);
        assert!(t.into_sorted().is_empty());
    }

    #[test]
    fn normalise() {
        let v = normalized(&[3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
