//! f32 matrix product for dense layers whose weights are known at load (BERT's): the weight
//! matrix is packed once into column panels of [`NR`] floats (`k × NR` each, contiguous), and
//! a register-blocked [`MR`] × [`NR`] kernel (AVX2/FMA: twelve accumulators, two weight loads
//! and six broadcasts per step of `k`) runs over blocks of token rows, the blocks spread over
//! the rayon pool. A block's rows stay in the core's cache while every panel passes over them.
//!
//! Written here because the gemm crate reached about 28 GFLOP/s per core on these shapes
//! (`perf`: 70% of embedding time in its microkernel), packing both operands on every call,
//! where the weights never change.
//!
//! Where the CPU has AVX-512 BF16, weights are packed as bf16 and the tokens rounded to bf16
//! once per call; `vdpbf16ps` multiplies pairs of them and accumulates in f32: twice the
//! multiply-adds per instruction of f32 FMA. Each product then carries a relative error of at
//! most about 2^-8 (both factors rounded to nearest even), the sums stay f32; the tests bound
//! it against f64 and `tests/embed_reference.rs` holds the embeddings to sentence-transformers'
//! (cosine >= 0.999).

use crate::kernels::SharedOut as Out;
use rayon::prelude::*;

/// Output columns per panel (two AVX2 registers).
pub const NR: usize = 16;
/// Token rows per kernel call.
pub const MR: usize = 6;

/// A `k × n` weight matrix in column panels: panel `p` holds columns `p·NR..(p+1)·NR` as `k`
/// rows of `NR` floats.
pub struct Packed {
    data: Panels,
    k: usize,
    n: usize,
    /// Panel width: [`NR`], or twice that where the AVX-512 kernel runs.
    nr: usize,
    isa: Isa,
}

/// The packed weights: f32, or bf16 pairs (`k` rows taken two at a time, rounded up; each
/// `u32` holds row `2p` of a column in its low half and row `2p + 1` in its high half).
enum Panels {
    F32(Vec<f32>),
    Bf16(Vec<u32>),
}

/// Which kernel runs, decided once at packing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Isa {
    Portable,
    Avx2,
    Avx512,
    Avx512Bf16,
}

fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bf16") {
            return Isa::Avx512Bf16;
        }
        if std::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if crate::kernels::has_avx2_fma() {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

impl Packed {
    /// Packs `w` (`k × n`, row-major); `None` when `n` is not a multiple of [`NR`].
    pub fn new(w: &[f32], k: usize, n: usize) -> Option<Packed> {
        Packed::with_isa(w, k, n, isa())
    }

    fn with_isa(w: &[f32], k: usize, n: usize, isa: Isa) -> Option<Packed> {
        if n % NR != 0 || w.len() != k * n {
            return None;
        }
        let wide = matches!(isa, Isa::Avx512 | Isa::Avx512Bf16);
        let isa = if wide && n % (2 * NR) != 0 {
            Isa::Avx2
        } else {
            isa
        };
        let nr = if matches!(isa, Isa::Avx512 | Isa::Avx512Bf16) {
            2 * NR
        } else {
            NR
        };
        let data = if isa == Isa::Avx512Bf16 {
            let mut data = Vec::with_capacity(k.div_ceil(2) * n);
            for p in 0..n / nr {
                for pair in 0..k.div_ceil(2) {
                    for j in p * nr..(p + 1) * nr {
                        let lo = bf16_bits(w[2 * pair * n + j]);
                        let hi = if 2 * pair + 1 < k {
                            bf16_bits(w[(2 * pair + 1) * n + j])
                        } else {
                            0
                        };
                        data.push(lo as u32 | (hi as u32) << 16);
                    }
                }
            }
            Panels::Bf16(data)
        } else {
            let mut data = Vec::with_capacity(k * n);
            for p in 0..n / nr {
                for row in w.chunks_exact(n) {
                    data.extend_from_slice(&row[p * nr..(p + 1) * nr]);
                }
            }
            Panels::F32(data)
        };
        Some(Packed {
            data,
            k,
            n,
            nr,
            isa,
        })
    }

    pub fn inputs(&self) -> usize {
        self.k
    }

    pub fn outputs(&self) -> usize {
        self.n
    }
}

/// `f` rounded to the nearest bf16 (ties to even), as bits; NaN stays NaN.
#[inline(always)]
fn bf16_bits(f: f32) -> u16 {
    let b = f.to_bits();
    // Both computed and one selected, so that loops over this vectorise.
    let rounded = (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16;
    let nan = ((b >> 16) | 0x40) as u16;
    if f.is_nan() {
        nan
    } else {
        rounded
    }
}

/// The rows of `x` (`rows × k`) as bf16 pairs, `k` rounded up to even (a zero after an odd
/// last value): the layout [`Panels::Bf16`] meets.
fn to_bf16_pairs(x: &[f32], rows: usize, k: usize) -> Vec<u32> {
    let k2 = k.div_ceil(2);
    let mut out = vec![0u32; rows * k2];
    for (row, o) in x.chunks_exact(k).take(rows).zip(out.chunks_exact_mut(k2)) {
        let pairs = row.chunks_exact(2);
        if let Some(&last) = pairs.remainder().first() {
            o[k2 - 1] = bf16_bits(last) as u32;
        }
        for (v, p) in o.iter_mut().zip(pairs) {
            *v = bf16_bits(p[0]) as u32 | (bf16_bits(p[1]) as u32) << 16;
        }
    }
    out
}

/// `dst[rows × n] = x[rows × k] · W`, all row-major (`dst` overwritten).
pub fn matmul(dst: &mut [f32], x: &[f32], rows: usize, w: &Packed) {
    let (k, n, nr) = (w.k, w.n, w.nr);
    assert!(dst.len() >= rows * n && x.len() >= rows * k);
    let pairs = match w.data {
        Panels::Bf16(_) => to_bf16_pairs(x, rows, k),
        Panels::F32(_) => Vec::new(),
    };
    let k2 = k.div_ceil(2);
    let mr = if matches!(w.isa, Isa::Avx512 | Isa::Avx512Bf16) {
        MR512
    } else {
        MR
    };
    // Token rows per rayon task.
    let mc = 8 * mr;
    let out = Out(dst.as_mut_ptr());
    let block = |b: usize| {
        let out = out;
        let (r0, r1) = (b * mc, ((b + 1) * mc).min(rows));
        for p in 0..n / nr {
            let mut i = r0;
            while i < r1 {
                let r = mr.min(r1 - i);
                let c = out.0.wrapping_add(i * n + p * nr);
                // SAFETY: rows i..i+r, columns p·nr..(p+1)·nr lie inside dst (asserted above)
                // and belong to this task alone; a bf16 packing was made only where the CPU
                // has AVX-512 BF16.
                match &w.data {
                    Panels::F32(data) => {
                        let panel = &data[p * k * nr..(p + 1) * k * nr];
                        let a = &x[i * k..(i + r) * k];
                        unsafe { panel_rows(w.isa, a, k, panel, nr, c, n, r) };
                    }
                    #[cfg(target_arch = "x86_64")]
                    Panels::Bf16(data) => {
                        let panel = &data[p * k2 * nr..(p + 1) * k2 * nr];
                        let a = &pairs[i * k2..(i + r) * k2];
                        unsafe { bf16_rows(a, k2, panel, c, n, r) };
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    Panels::Bf16(_) => unreachable!("bf16 panels are packed on x86-64 only"),
                }
                i += r;
            }
        }
    };
    let blocks = rows.div_ceil(mc);
    if blocks <= 1 {
        (0..blocks).for_each(block);
    } else {
        (0..blocks).into_par_iter().for_each(block);
    }
}

/// `$module::$kernel::<R>(args)` for `R = $r` among the listed row counts, else `R = 1`: each row count
/// gets its own const-generic kernel.
macro_rules! by_rows {
    ($r:expr, $module:ident::$kernel:ident, $args:tt, [$($n:literal),*]) => {
        match $r {
            $($n => $module::$kernel::<$n> $args,)*
            _ => $module::$kernel::<1> $args,
        }
    };
}

/// Token rows per AVX-512 kernel call (sixteen 512-bit accumulators).
const MR512: usize = 8;

/// [`panel_rows`] for bf16 panels: `r` rows of bf16 pairs (`k2` per row).
///
/// # Safety
/// As [`panel_rows`]; the CPU must have AVX-512 F and BF16.
#[cfg(target_arch = "x86_64")]
unsafe fn bf16_rows(a: &[u32], k2: usize, panel: &[u32], c: *mut f32, ldc: usize, r: usize) {
    // SAFETY: the caller's.
    unsafe {
        by_rows!(
            r,
            avx512::bf16_kernel,
            (a, k2, panel, c, ldc),
            [8, 7, 6, 5, 4, 3, 2]
        )
    }
}

/// `r` rows of `a` (row stride `k`) times one panel (`nr` wide) into `c` (row stride `ldc`).
///
/// # Safety
/// `c` must be valid for `r` rows of `nr` floats at stride `ldc`; `r` is at most the kernel's
/// row count.
#[allow(clippy::too_many_arguments)]
unsafe fn panel_rows(
    isa: Isa,
    a: &[f32],
    k: usize,
    panel: &[f32],
    nr: usize,
    c: *mut f32,
    ldc: usize,
    r: usize,
) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: the ISA was detected at packing; the caller vouches for `c`.
        Isa::Avx512 => unsafe {
            by_rows!(
                r,
                avx512::kernel,
                (a, k, panel, c, ldc),
                [8, 7, 6, 5, 4, 3, 2]
            );
            return;
        },
        Isa::Avx2 => unsafe {
            by_rows!(r, avx::kernel, (a, k, panel, c, ldc), [6, 5, 4, 3, 2]);
            return;
        },
        Isa::Portable => {}
        Isa::Avx512Bf16 => unreachable!("bf16 panels go through bf16_rows"),
    }
    for i in 0..r {
        let mut acc = vec![0f32; nr];
        for p in 0..k {
            let av = a[i * k + p];
            for (s, b) in acc.iter_mut().zip(&panel[p * nr..(p + 1) * nr]) {
                *s = av.mul_add(*b, *s);
            }
        }
        for (j, v) in acc.iter().enumerate() {
            // SAFETY: the caller vouches for row i's nr floats.
            unsafe { *c.add(i * ldc + j) = *v };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::NR;
    use std::arch::x86_64::*;

    /// Writes `R` rows of 32 floats (two registers each) at stride `ldc`.
    ///
    /// # Safety
    /// `c` valid for those writes; inlined only into functions with AVX-512 F enabled.
    #[inline(always)]
    unsafe fn store<const R: usize>(acc: &[[__m512; 2]; R], c: *mut f32, ldc: usize) {
        for (i, acc) in acc.iter().enumerate() {
            // SAFETY: the caller's.
            unsafe {
                _mm512_storeu_ps(c.add(i * ldc), acc[0]);
                _mm512_storeu_ps(c.add(i * ldc + 16), acc[1]);
            }
        }
    }

    /// `R` rows × 32 columns in bf16: per pair of `k` rows, two panel loads, `R` broadcasts of
    /// a token pair, `2R` `vdpbf16ps` (each lane adds both products of its pair).
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn bf16_kernel<const R: usize>(
        a: &[u32],
        k2: usize,
        panel: &[u32],
        c: *mut f32,
        ldc: usize,
    ) {
        const W: usize = 2 * NR;
        assert!(a.len() >= R * k2 && panel.len() >= k2 * W);
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        let (ap, bp) = (a.as_ptr(), panel.as_ptr());
        for p in 0..k2 {
            // SAFETY: p < k2; the panel holds k2 rows of W pairs and a holds R rows of k2.
            // The transmutes reinterpret 512 bits as 32 bf16, which is what they hold.
            unsafe {
                let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.add(p * W).cast()));
                let b1: __m512bh =
                    std::mem::transmute(_mm512_loadu_si512(bp.add(p * W + 16).cast()));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let av: __m512bh =
                        std::mem::transmute(_mm512_set1_epi32(*ap.add(i * k2 + p) as i32));
                    acc[0] = _mm512_dpbf16_ps(acc[0], av, b0);
                    acc[1] = _mm512_dpbf16_ps(acc[1], av, b1);
                }
            }
        }
        // SAFETY: the caller vouches for R rows of W floats at stride ldc.
        unsafe { store(&acc, c, ldc) };
    }

    /// `R` rows × 32 columns: per step of `k`, two panel loads, `R` broadcasts, `2R` FMAs.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kernel<const R: usize>(
        a: &[f32],
        k: usize,
        panel: &[f32],
        c: *mut f32,
        ldc: usize,
    ) {
        const W: usize = 2 * NR;
        assert!(a.len() >= R * k && panel.len() >= k * W);
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        let (ap, bp) = (a.as_ptr(), panel.as_ptr());
        for p in 0..k {
            // SAFETY: p < k; the panel holds k rows of W floats and a holds R rows of k.
            unsafe {
                let b0 = _mm512_loadu_ps(bp.add(p * W));
                let b1 = _mm512_loadu_ps(bp.add(p * W + 16));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*ap.add(i * k + p));
                    acc[0] = _mm512_fmadd_ps(av, b0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(av, b1, acc[1]);
                }
            }
        }
        // SAFETY: the caller vouches for R rows of W floats at stride ldc.
        unsafe { store(&acc, c, ldc) };
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::NR;
    use std::arch::x86_64::*;

    /// `R` rows × 16 columns: per step of `k`, two panel loads, `R` broadcasts, `2R` FMAs.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn kernel<const R: usize>(
        a: &[f32],
        k: usize,
        panel: &[f32],
        c: *mut f32,
        ldc: usize,
    ) {
        assert!(a.len() >= R * k && panel.len() >= k * NR);
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        let (ap, bp) = (a.as_ptr(), panel.as_ptr());
        for p in 0..k {
            // SAFETY: p < k; the panel holds k rows of NR floats and a holds R rows of k.
            unsafe {
                let b0 = _mm256_loadu_ps(bp.add(p * NR));
                let b1 = _mm256_loadu_ps(bp.add(p * NR + 8));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*ap.add(i * k + p));
                    acc[0] = _mm256_fmadd_ps(av, b0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(av, b1, acc[1]);
                }
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            // SAFETY: the caller vouches for R rows of NR floats at stride ldc.
            unsafe {
                _mm256_storeu_ps(c.add(i * ldc), acc[0]);
                _mm256_storeu_ps(c.add(i * ldc + 8), acc[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel this CPU can run.
    fn available() -> Vec<Isa> {
        let have = isa();
        [Isa::Portable, Isa::Avx2, Isa::Avx512, Isa::Avx512Bf16]
            .into_iter()
            .filter(|i| match i {
                Isa::Portable => true,
                Isa::Avx2 => have != Isa::Portable,
                Isa::Avx512 => matches!(have, Isa::Avx512 | Isa::Avx512Bf16),
                Isa::Avx512Bf16 => have == Isa::Avx512Bf16,
            })
            .collect()
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(bf16_bits(1.0), 0x3f80);
        assert_eq!(bf16_bits(-2.5), 0xc020);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even one (1).
        assert_eq!(bf16_bits(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: to 1 + 2^-6.
        assert_eq!(bf16_bits(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(bf16_bits(f32::MAX), 0x7f80);
        assert!(bf16_bits(f32::NAN) & 0x7f80 == 0x7f80 && bf16_bits(f32::NAN) & 0x7f != 0);
    }

    /// The bf16 kernel against f64: each product's factors are rounded to bf16 (relative error
    /// at most 2^-9 each), the sums kept in f32, so the error stays below 2^-7.9 · Σ|x·w| (plus
    /// f32 summation, far smaller). Odd `k` (a zero-padded last pair) and partial blocks.
    #[test]
    fn bf16_stays_within_its_rounding() {
        if isa() != Isa::Avx512Bf16 {
            eprintln!("this CPU has no AVX-512 BF16: the bf16 kernel is not run here");
            return;
        }
        for (rows, k, n) in [
            (1, 3, 32),
            (7, 384, 32),
            (50, 17, 64),
            (9, 1536, 96),
            (3, 5, 32),
        ] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.1013)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.0517)
                .collect();
            let packed = Packed::with_isa(&w, k, n, Isa::Avx512Bf16).unwrap();
            assert_eq!(packed.isa, Isa::Avx512Bf16);
            let mut dst = vec![f32::NAN; rows * n];
            matmul(&mut dst, &x, rows, &packed);
            for i in 0..rows {
                for j in 0..n {
                    let terms = (0..k).map(|p| x[i * k + p] as f64 * w[p * n + j] as f64);
                    let want: f64 = terms.clone().sum();
                    let bound: f64 = terms.map(f64::abs).sum::<f64>() / 2f64.powf(7.9) + 1e-6;
                    let got = dst[i * n + j] as f64;
                    assert!(
                        (got - want).abs() <= bound,
                        "{rows}x{k}x{n} at ({i}, {j}): {got} vs {want} (bound {bound})"
                    );
                }
            }
        }
    }

    /// Every kernel this CPU has against a plain triple loop in f64, and against the portable
    /// path (the same sums in the same order, so bit for bit), on shapes with partial row
    /// blocks and tasks.
    #[test]
    fn matches_a_plain_product() {
        let isas: Vec<Isa> = available()
            .into_iter()
            .filter(|&i| i != Isa::Avx512Bf16)
            .collect();
        for (rows, k, n) in [
            (1, 3, 32),
            (7, 384, 32),
            (50, 17, 64),
            (100, 64, 16),
            (9, 5, 48),
        ] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.1)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.05)
                .collect();
            let mut results = Vec::new();
            for &isa in &isas {
                let packed = Packed::with_isa(&w, k, n, isa).unwrap();
                let mut dst = vec![f32::NAN; rows * n];
                matmul(&mut dst, &x, rows, &packed);
                for i in 0..rows {
                    for j in 0..n {
                        let want: f64 = (0..k)
                            .map(|p| x[i * k + p] as f64 * w[p * n + j] as f64)
                            .sum();
                        assert!(
                            (dst[i * n + j] as f64 - want).abs() < 1e-4 * want.abs().max(1.0),
                            "{isa:?} {rows}x{k}x{n} at ({i}, {j}): {} vs {want}",
                            dst[i * n + j]
                        );
                    }
                }
                results.push(dst);
            }
            for (isa, r) in isas.iter().zip(&results) {
                assert_eq!(
                    r, &results[0],
                    "{isa:?} {rows}x{k}x{n}: sums differ from portable"
                );
            }
        }
        assert!(Packed::new(&[0.0; 24], 2, 12).is_none());
    }
}
