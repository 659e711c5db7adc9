//! A register-tiled Q8_0 × Q8_0 matrix product for prompt processing (many tokens at once),
//! after llamafile's tinyBLAS: each step loads a tile of weight rows and a tile of token rows
//! once and forms every product between them, so a weight block is read once per [`RM`]
//! tokens rather than once per token (candle 0.11's kernel walks one token against four weight
//! rows). AVX2 with FMA (the project's `x86-64-v3` target) and a scalar fallback that computes
//! the same sums; the tests hold both to candle's own `vec_dot`.
//!
//! Layout: GGML's Q8_0 — blocks of 32 values, each an f16 scale `d` and 32 `i8`, value =
//! `d · q`. The weight matrix is `n` rows of `k / 32` blocks (row `j` = output feature `j`);
//! the tokens are quantised the same way per row (`d = max|x| / 127`, `q = round(x / d)`, as
//! candle and GGML do).

use half::f16;

/// Values per block.
pub const QK: usize = 32;

/// One Q8_0 block, bit for bit GGML's (and candle's `BlockQ8_0`): 34 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Block {
    pub d: f16,
    pub qs: [i8; QK],
}

const _: () = assert!(std::mem::size_of::<Block>() == 34);

/// Token rows per tile.
pub const RM: usize = 4;
/// Weight rows per tile.
pub const RN: usize = 3;

/// Views `bytes` (a Q8_0 tensor's storage) as blocks; `None` when the length or alignment is
/// not that of whole blocks.
pub fn blocks(bytes: &[u8]) -> Option<&[Block]> {
    let size = std::mem::size_of::<Block>();
    if bytes.len() % size != 0 || (bytes.as_ptr() as usize) % std::mem::align_of::<Block>() != 0 {
        return None;
    }
    // SAFETY: Block is plain data (no invalid bit patterns), the length is a whole number of
    // blocks and the pointer is aligned for it.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const Block, bytes.len() / size) })
}

/// Quantises each row of `x` (`m` rows of `k` values, `k` a multiple of 32) to Q8_0.
pub fn quantize_rows(x: &[f32], k: usize, out: &mut Vec<Block>) {
    out.clear();
    out.reserve(x.len() / QK);
    for chunk in x.chunks_exact(QK) {
        let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut qs = [0i8; QK];
        for (q, v) in qs.iter_mut().zip(chunk) {
            *q = (v * id).round() as i8;
        }
        out.push(Block {
            d: f16::from_f32(d),
            qs,
        });
    }
    debug_assert_eq!(out.len(), x.len() / k * (k / QK));
}

/// A raw output pointer the tasks write through: each task writes its own columns.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: see `matmul`: tasks write disjoint column ranges of every row.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// `out[i, j] = Σ_b a[i, b] · w[j, b]` for `m` token rows (`a`: `m × k/32` blocks), `n` weight
/// rows (`w`: `n × k/32` blocks); `out` is `m × n` row-major. Column tiles are spread over
/// candle's CPU thread pool (the one its own quantized matmuls use, which spins between calls:
/// a decode step makes about seven of these calls per layer, and waking rayon's sleeping
/// workers for each cost more than the product itself on the small models).
pub fn matmul(a: &[Block], w: &[Block], m: usize, n: usize, k: usize, out: &mut [f32]) {
    let kb = k / QK;
    assert!(k % QK == 0 && a.len() >= m * kb && w.len() >= n * kb && out.len() >= m * n);
    let ptr = Out(out.as_mut_ptr());
    let fast = simd();
    if m == 1 {
        return matvec(a, w, n, kb, fast, out);
    }
    candle_core::utils::barrier_pool().execute_chunked(n.div_ceil(RN), |tiles| {
        let ptr = ptr;
        let (j0, j1) = (tiles.start * RN, (tiles.end * RN).min(n));
        for i0 in (0..m).step_by(RM) {
            let rm = RM.min(m - i0);
            let mut j = j0;
            while j < j1 {
                let rn = RN.min(j1 - j);
                // SAFETY: rows i0..i0+rm and columns j..j+rn lie inside `out` (asserted above);
                // this call alone writes columns j0..j1.
                unsafe { tile(fast, a, w, kb, i0, rm, j, rn, ptr.0, n) };
                j += rn;
            }
        }
    });
}

/// One token row (a decode step): each weight row is read front to back on its own, which the
/// memory system streams faster than the interleaved rows of a tile (`sextant-bench kernels`
/// with weights coming from memory).
fn matvec(a: &[Block], w: &[Block], n: usize, kb: usize, fast: bool, out: &mut [f32]) {
    let ptr = Out(out.as_mut_ptr());
    candle_core::utils::barrier_pool().execute_chunked(n, |rows| {
        let ptr = ptr;
        for j in rows {
            let row = &w[j * kb..(j + 1) * kb];
            #[cfg(target_arch = "x86_64")]
            let v = if fast {
                // SAFETY: `fast` says the CPU has AVX2 and FMA.
                unsafe { avx::row(&a[..kb], row) }
            } else {
                scalar_row(&a[..kb], row)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let v = scalar_row(&a[..kb], row);
            // SAFETY: j < n ≤ out.len(); this call alone writes index j.
            unsafe { *ptr.0.add(j) = v };
        }
    });
}

fn scalar_row(a: &[Block], w: &[Block]) -> f32 {
    let mut sums = [[0f32; RN]; RM];
    scalar_tile(a, w, a.len(), 1, 1, &mut sums);
    sums[0][0]
}

/// Whether the AVX2/FMA tiles can run here.
fn simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One tile: rows `i0..i0+rm` of `a` against rows `j0..j0+rn` of `w`, into `out` (row stride
/// `ldo`).
///
/// # Safety
/// `out` must be valid for the tile's writes.
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    fast: bool,
    a: &[Block],
    w: &[Block],
    kb: usize,
    i0: usize,
    rm: usize,
    j0: usize,
    rn: usize,
    out: *mut f32,
    ldo: usize,
) {
    let a = &a[i0 * kb..(i0 + rm) * kb];
    let w = &w[j0 * kb..(j0 + rn) * kb];
    let mut sums = [[0f32; RN]; RM];
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: `fast` says the CPU has AVX2 and FMA.
        unsafe {
            match (rm, rn) {
                (4, 3) => avx::tile::<4, 3>(a, w, kb, &mut sums),
                (4, 2) => avx::tile::<4, 2>(a, w, kb, &mut sums),
                (4, 1) => avx::tile::<4, 1>(a, w, kb, &mut sums),
                (3, 3) => avx::tile::<3, 3>(a, w, kb, &mut sums),
                (3, 2) => avx::tile::<3, 2>(a, w, kb, &mut sums),
                (3, 1) => avx::tile::<3, 1>(a, w, kb, &mut sums),
                (2, 3) => avx::tile::<2, 3>(a, w, kb, &mut sums),
                (2, 2) => avx::tile::<2, 2>(a, w, kb, &mut sums),
                (2, 1) => avx::tile::<2, 1>(a, w, kb, &mut sums),
                (1, 3) => avx::tile::<1, 3>(a, w, kb, &mut sums),
                (1, 2) => avx::tile::<1, 2>(a, w, kb, &mut sums),
                _ => avx::tile::<1, 1>(a, w, kb, &mut sums),
            }
        }
        store(&sums, rm, rn, i0, j0, out, ldo);
        return;
    }
    scalar_tile(a, w, kb, rm, rn, &mut sums);
    store(&sums, rm, rn, i0, j0, out, ldo);
}

fn store(
    sums: &[[f32; RN]; RM],
    rm: usize,
    rn: usize,
    i0: usize,
    j0: usize,
    out: *mut f32,
    ldo: usize,
) {
    for (i, row) in sums.iter().enumerate().take(rm) {
        for (j, &v) in row.iter().enumerate().take(rn) {
            // SAFETY: the caller vouches for the tile's place in `out`.
            unsafe { *out.add((i0 + i) * ldo + j0 + j) = v };
        }
    }
}

/// The same sums as the AVX2 tile, one block at a time.
fn scalar_tile(
    a: &[Block],
    w: &[Block],
    kb: usize,
    rm: usize,
    rn: usize,
    sums: &mut [[f32; RN]; RM],
) {
    for (i, srow) in sums.iter_mut().enumerate().take(rm) {
        for (j, s) in srow.iter_mut().enumerate().take(rn) {
            let mut acc = 0f32;
            for b in 0..kb {
                let (x, y) = (&a[i * kb + b], &w[j * kb + b]);
                let dot: i32 =
                    x.qs.iter()
                        .zip(&y.qs)
                        .map(|(&p, &q)| p as i32 * q as i32)
                        .sum();
                acc += dot as f32 * (x.d.to_f32() * y.d.to_f32());
            }
            *s = acc;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{Block, RM, RN};
    use std::arch::x86_64::*;

    /// Eight i32 partial sums of `x · y` (32 signed bytes each) as floats: |x| · sign(y, x)
    /// with `maddubs` (unsigned × signed pairs), pairs of i16 summed to i32 with `madd`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn dot(ax: __m256i, x: __m256i, y: __m256i) -> __m256 {
        let sy = _mm256_sign_epi8(y, x);
        let pairs = _mm256_maddubs_epi16(ax, sy);
        _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), pairs))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum(x: __m256) -> f32 {
        let r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
        let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
        let r = _mm_add_ss(r, _mm_movehdup_ps(r));
        _mm_cvtss_f32(r)
    }

    /// One token row against one weight row, two blocks per step into two accumulators (one
    /// accumulator, candle's order, is 10-40% slower on the decode shapes: the FMA chain
    /// waits on itself).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn row(a: &[Block], w: &[Block]) -> f32 {
        let mut acc = [_mm256_setzero_ps(); 2];
        let one = |acc: &mut __m256, x: &Block, y: &Block| {
            // SAFETY: a block's 32 quants are 32 readable bytes.
            let (xv, yv) = unsafe {
                (
                    _mm256_loadu_si256(x.qs.as_ptr() as *const __m256i),
                    _mm256_loadu_si256(y.qs.as_ptr() as *const __m256i),
                )
            };
            let s = _mm256_set1_ps(x.d.to_f32() * y.d.to_f32());
            *acc = _mm256_fmadd_ps(s, dot(_mm256_sign_epi8(xv, xv), xv, yv), *acc);
        };
        let (xs, ys) = (a.chunks_exact(2), w.chunks_exact(2));
        if let (Some(x), Some(y)) = (xs.remainder().first(), ys.remainder().first()) {
            one(&mut acc[1], x, y);
        }
        for (x, y) in xs.zip(ys) {
            let [a0, a1] = &mut acc;
            one(a0, &x[0], &y[0]);
            one(a1, &x[1], &y[1]);
        }
        hsum(_mm256_add_ps(acc[0], acc[1]))
    }

    /// `R × C` tile: for each block, the `C` weight blocks are loaded once and met by each of
    /// the `R` token blocks; `R · C` accumulators of eight lanes each.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile<const R: usize, const C: usize>(
        a: &[Block],
        w: &[Block],
        kb: usize,
        sums: &mut [[f32; RN]; RM],
    ) {
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        for b in 0..kb {
            let mut wv = [_mm256_setzero_si256(); C];
            let mut wd = [0f32; C];
            for j in 0..C {
                let blk = &w[j * kb + b];
                // SAFETY: a block's 32 quants are 32 readable bytes.
                wv[j] = unsafe { _mm256_loadu_si256(blk.qs.as_ptr() as *const __m256i) };
                wd[j] = blk.d.to_f32();
            }
            for i in 0..R {
                let blk = &a[i * kb + b];
                // SAFETY: as above.
                let x = unsafe { _mm256_loadu_si256(blk.qs.as_ptr() as *const __m256i) };
                let ax = _mm256_sign_epi8(x, x);
                let ad = blk.d.to_f32();
                for j in 0..C {
                    let s = _mm256_set1_ps(ad * wd[j]);
                    acc[i][j] = _mm256_fmadd_ps(s, dot(ax, x, wv[j]), acc[i][j]);
                }
            }
        }
        for i in 0..R {
            for j in 0..C {
                sums[i][j] = hsum(acc[i][j]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Module, Tensor};

    fn data(m: usize, k: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..m * k)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 4.0
            })
            .collect()
    }

    /// Against candle's own Q8_0 matmul (its quantisation of the tokens, its `vec_dot`) on
    /// shapes with every kind of edge tile: the same products up to float summation order.
    #[test]
    fn matches_candles_q8_0_matmul() {
        for (m, n, k) in [
            (1, 1, 32),
            (5, 7, 64),
            (17, 10, 576),
            (33, 29, 896),
            (4, 3, 96),
        ] {
            let x = data(m, k, 1 + m as u64);
            let wf = data(n, k, 99 + n as u64);
            let wt = Tensor::from_vec(wf, (n, k), &Device::Cpu).unwrap();
            let q = std::sync::Arc::new(QTensor::quantize(&wt, GgmlDType::Q8_0).unwrap());
            let bytes = q.data().unwrap();
            let w = blocks(&bytes).expect("aligned whole blocks");
            let mut a = Vec::new();
            quantize_rows(&x, k, &mut a);
            let mut ours = vec![0f32; m * n];
            matmul(&a, w, m, n, k, &mut ours);
            let qm = candle_core::quantized::QMatMul::from_arc(q.clone()).unwrap();
            let xt = Tensor::from_vec(x.clone(), (m, k), &Device::Cpu).unwrap();
            let want: Vec<f32> = qm
                .forward(&xt)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let mut scalar = [[0f32; RN]; RM];
            scalar_tile(&a, w, k / QK, 1, 1, &mut scalar);
            for (i, (o, r)) in ours.iter().zip(&want).enumerate() {
                assert!(
                    (o - r).abs() <= 1e-3 * r.abs().max(1.0),
                    "{m}x{n}x{k} at {i}: {o} vs candle {r}"
                );
            }
            assert!((scalar[0][0] - ours[0]).abs() <= 1e-3 * ours[0].abs().max(1.0));
        }
    }
}
