//! Elementwise kernels the forward passes share: `exp` and `erf` for f32 without branches, so
//! the loops calling them vectorise (AVX2/FMA with the project's `x86-64-v3` target);
//! [`q8`], the quantized products of the chat models, and [`dense`], the f32 product of BERT's
//! dense layers.

pub mod dense;
pub mod q8;

/// An output pointer handed to parallel tasks that each write their own disjoint part of the
/// buffer (the callers say which part).
#[derive(Clone, Copy)]
pub(crate) struct SharedOut(pub(crate) *mut f32);
// SAFETY: every user hands each task a region no other task writes.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// Whether this CPU has AVX2 and FMA (the `x86-64-v3` kernels).
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `e^x` for f32 without branches, so loops over it vectorise: `x = n ln2 + r`, `|r| ≤ ln2/2`,
/// `e^r` by a degree-6 polynomial, `2^n` by building the exponent bits. Relative error below
/// 4e-7 on the range where `e^x` is a normal f32; below about -87 it stays at about 1e-38.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.3);
    // n = round(x · log2 e) by the shift trick: adding 1.5 · 2^23 leaves the rounded integer
    // in the low mantissa bits (ties to even), read back as bits. `round` and an `as i32`
    // conversion (which saturates and maps NaN to 0) both kept the calling loops scalar.
    const SHIFT: f32 = 12_582_912.0;
    let t = x.mul_add(LOG2E, SHIFT);
    let n = t - SHIFT;
    let ni = t.to_bits() as i32 - SHIFT.to_bits() as i32;
    let r = (-n).mul_add(LN2_HI, x);
    let r = (-n).mul_add(LN2_LO, r);
    // Taylor/minimax coefficients of e^r on [-ln2/2, ln2/2] (Cephes expf).
    let p = 1.987_569_1e-4_f32;
    let p = p.mul_add(r, 1.398_199_9e-3);
    let p = p.mul_add(r, 8.333_452e-3);
    let p = p.mul_add(r, 4.166_579_6e-2);
    let p = p.mul_add(r, 1.666_666_5e-1);
    let p = p.mul_add(r, 5.000_000_1e-1);
    let er = (p * r).mul_add(r, r) + 1.0;
    let bits = ((ni + 127) as u32) << 23;
    er * f32::from_bits(bits)
}

/// `erf(x)` without branches (Abramowitz and Stegun 7.1.26: absolute error below 1.5e-7 in exact
/// arithmetic, below 1e-6 in f32), for GELU.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let y = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let r = 1.0 - y * exp(-a * a);
    r.copysign(x)
}

/// `Σ a[i] · b[i]` over equal-length slices, in eight-lane blocks with four independent
/// accumulators (so the loop vectorises to FMA without reassociating one running sum).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [[0f32; 8]; 4];
    let (ac, bc) = (a.chunks_exact(32), b.chunks_exact(32));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for (l, lanes) in acc.iter_mut().enumerate() {
            for (i, s) in lanes.iter_mut().enumerate() {
                *s = x[l * 8 + i].mul_add(y[l * 8 + i], *s);
            }
        }
    }
    let mut sum = 0f32;
    for (x, y) in ar.iter().zip(br) {
        sum = x.mul_add(*y, sum);
    }
    for i in 0..8 {
        sum += (acc[0][i] + acc[1][i]) + (acc[2][i] + acc[3][i]);
    }
    sum
}

/// `y += a · x`.
#[inline]
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    debug_assert_eq!(y.len(), x.len());
    for (y, x) in y.iter_mut().zip(x) {
        *y = x.mul_add(a, *y);
    }
}

/// Softmax over `row[..seen]` in place; the rest (positions a causal query may not see)
/// becomes 0. The maximum and the sum are taken in eight lanes, so every loop here vectorises
/// (one running sum would chain every addition on the one before).
pub fn softmax_prefix(row: &mut [f32], seen: usize) {
    let (past, future) = row.split_at_mut(seen);
    future.fill(0.0);
    let max = max_lanes(past);
    exp_shifted(past, max);
    let inv = 1.0 / sum(past);
    for v in past.iter_mut() {
        *v *= inv;
    }
}

/// `x ← e^(x - shift)` for every element: eight at a time in AVX2 registers where the CPU has
/// them (the same arithmetic as [`exp`], which LLVM would not vectorise in a loop), the rest
/// one by one.
fn exp_shifted(x: &mut [f32], shift: f32) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        unsafe { avx::exp_shifted(x, shift) };
        return;
    }
    for v in x.iter_mut() {
        *v = exp(*v - shift);
    }
}

/// GELU as BERT defines it, in place: `x · Φ(x) = x/2 · (1 + erf(x/√2))` with [`erf`]. Eight
/// at a time in AVX2 where the CPU has it, step for step the scalar arithmetic (so the same
/// bits: LLVM kept the scalar loop scalar, 16% of embedding time at 256 tokens).
pub fn gelu(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        unsafe { avx::gelu(x) };
        return;
    }
    for v in x.iter_mut() {
        *v = gelu1(*v);
    }
}

#[inline(always)]
fn gelu1(v: f32) -> f32 {
    0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2))
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gelu(x: &mut [f32]) {
        let mut chunks = x.chunks_exact_mut(8);
        let set = _mm256_set1_ps;
        for c in &mut chunks {
            // SAFETY: eight floats in `c`. Each step is the scalar `gelu1`/`erf`'s, in the
            // same order and without fusing what it does not fuse.
            unsafe {
                let v = _mm256_loadu_ps(c.as_ptr());
                let x = _mm256_mul_ps(v, set(std::f32::consts::FRAC_1_SQRT_2));
                let sign = _mm256_and_ps(x, set(-0.0));
                let a = _mm256_andnot_ps(set(-0.0), x);
                let t = _mm256_div_ps(
                    set(1.0),
                    _mm256_add_ps(set(1.0), _mm256_mul_ps(set(0.327_591_1), a)),
                );
                let mut y = set(1.061_405_4);
                for coef in [-1.453_152_1, 1.421_413_7, -0.284_496_74, 0.254_829_6] {
                    y = _mm256_add_ps(set(coef), _mm256_mul_ps(t, y));
                }
                let y = _mm256_mul_ps(t, y);
                let na = _mm256_xor_ps(a, set(-0.0));
                let e = exp8(_mm256_mul_ps(na, a));
                let r = _mm256_sub_ps(set(1.0), _mm256_mul_ps(y, e));
                let erf = _mm256_or_ps(_mm256_andnot_ps(set(-0.0), r), sign);
                let g = _mm256_mul_ps(_mm256_mul_ps(set(0.5), v), _mm256_add_ps(set(1.0), erf));
                _mm256_storeu_ps(c.as_mut_ptr(), g);
            }
        }
        for v in chunks.into_remainder() {
            *v = super::gelu1(*v);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_shifted(x: &mut [f32], shift: f32) {
        let mut chunks = x.chunks_exact_mut(8);
        let s = _mm256_set1_ps(shift);
        for c in &mut chunks {
            // SAFETY: eight floats in `c`.
            unsafe {
                let v = _mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), s);
                _mm256_storeu_ps(c.as_mut_ptr(), exp8(v));
            }
        }
        for v in chunks.into_remainder() {
            *v = super::exp(*v - shift);
        }
    }

    /// [`super::exp`] on eight lanes, step for step.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp8(x: __m256) -> __m256 {
        let x = _mm256_min_ps(
            _mm256_max_ps(x, _mm256_set1_ps(-87.3)),
            _mm256_set1_ps(88.3),
        );
        let shift = _mm256_set1_ps(12_582_912.0);
        let t = _mm256_fmadd_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E), shift);
        let n = _mm256_sub_ps(t, shift);
        let ni = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(shift));
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm256_set1_ps(1.987_569_1e-4);
        for c in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            5.000_000_1e-1,
        ] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let er = _mm256_add_ps(
            _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r),
            _mm256_set1_ps(1.0),
        );
        let bits = _mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23);
        _mm256_mul_ps(er, _mm256_castsi256_ps(bits))
    }
}

/// `Σ x`, in eight lanes.
#[inline]
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + rest
}

/// The largest of `x` (−∞ for none), in eight lanes.
#[inline]
fn max_lanes(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = a.max(*v);
        }
    }
    acc.iter().copied().fold(rest, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_match_libm() {
        let mut worst_exp = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            worst_exp = worst_exp.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst_exp < 4e-7, "exp: worst relative error {worst_exp:e}");
        assert!(exp(-200.0) < 1e-37);
        let mut worst_erf = 0f64;
        let mut x = -6.0f32;
        while x < 6.0 {
            let want = libm_erf(x as f64);
            worst_erf = worst_erf.max((erf(x) as f64 - want).abs());
            x += 0.001;
        }
        assert!(worst_erf < 1e-6, "erf: worst absolute error {worst_erf:e}");
    }

    /// erf by its Taylor series (|x| < 3) or continued-fraction tail, in f64, as the reference.
    fn libm_erf(x: f64) -> f64 {
        if x.abs() < 3.0 {
            let mut sum = 0.0;
            let mut term = x;
            let mut n = 0.0;
            while term.abs() > 1e-17 {
                sum += term / (2.0 * n + 1.0);
                n += 1.0;
                term *= -x * x / n;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc by Lentz's continued fraction.
            let z = x.abs();
            let mut f = z;
            for k in (1..60).rev() {
                f = z + (k as f64 / 2.0) / f;
            }
            let erfc = (-z * z).exp() / (f * std::f64::consts::PI.sqrt());
            (1.0 - erfc).copysign(x)
        }
    }

    #[test]
    fn softmax_prefix_hides_the_future() {
        let mut row = vec![1.0, 2.0, 9.0, 9.0];
        softmax_prefix(&mut row, 2);
        assert_eq!(&row[2..], &[0.0, 0.0]);
        let e = (1f64.exp(), 2f64.exp());
        assert!((row[1] as f64 - e.1 / (e.0 + e.1)).abs() < 1e-6);
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut row = vec![1.0, 2.0, 3.0, -1e30, 0.5];
        let n = row.len();
        softmax_prefix(&mut row, n);
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert!(row[3] < 1e-30);
        assert!(row[2] > row[1] && row[1] > row[0] && row[0] > row[4]);
        let want = [1f64, 2.0, 3.0, 0.5].map(|v| v.exp());
        let total: f64 = want.iter().sum();
        assert!((row[2] as f64 - want[2] / total).abs() < 1e-6);
    }

    #[test]
    fn dot_and_axpy_match_plain_loops() {
        for n in [0, 1, 7, 32, 64, 70, 896] {
            let a: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.25)
                .collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 13 % 7) as f32 - 3.0) * 0.5).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - want).abs() < 1e-4, "n = {n}");
            let mut y = b.clone();
            axpy(&mut y, 0.5, &a);
            for i in 0..n {
                assert_eq!(y[i], a[i].mul_add(0.5, b[i]));
            }
        }
    }

    #[test]
    fn vector_gelu_is_the_scalar_gelu() {
        let xs: Vec<f32> = (0..2001)
            .map(|i| (i as f32 - 1000.0) * 0.0123)
            .chain([0.0, -0.0, 1e-30, -1e-30, 15.0, -15.0, 200.0, -200.0])
            .collect();
        let mut v = xs.clone();
        gelu(&mut v);
        for (x, g) in xs.iter().zip(&v) {
            assert_eq!(g.to_bits(), gelu1(*x).to_bits(), "at {x}");
        }
    }

    #[test]
    fn vector_exp_is_the_scalar_exp() {
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 700.0) * 0.137).collect();
        let mut v = xs.clone();
        exp_shifted(&mut v, 1.5);
        for (x, e) in xs.iter().zip(&v) {
            assert_eq!(e.to_bits(), exp(x - 1.5).to_bits(), "at {x}");
        }
    }
}
