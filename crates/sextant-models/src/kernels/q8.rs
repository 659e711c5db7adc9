//! A register-tiled Q8_0 × Q8_0 matrix product for prompt processing (many tokens at once),
//! after llamafile's tinyBLAS: each step loads a tile of weight rows and a tile of token rows
//! once and forms every product between them, so a weight block is read once per [`RM`]
//! tokens rather than once per token (candle 0.11's kernel walks one token against four weight
//! rows). AVX2 with FMA (the project's `x86-64-v3` target), AVX-512 VNNI where the CPU has it
//! (`vpdpbusd` on 256-bit registers: the same integer sums in fewer instructions, so the same
//! floats bit for bit) and a scalar fallback that computes the same sums; the tests hold them
//! to candle's own `vec_dot` and to each other.
//!
//! Layout: GGML's Q8_0 — blocks of 32 values, each an f16 scale `d` and 32 `i8`, value =
//! `d · q`. The weight matrix is `n` rows of `k / 32` blocks (row `j` = output feature `j`), in
//! Q8_0 or Q5_0 ([`Q5Block`]: 32 five-bit values, value = `d · (q - 16)`; candle 0.11 has only
//! scalar code for it); the tokens are quantised to Q8_0 per row (`d = max|x| / 127`,
//! `q = round(x / d)`, as candle and GGML do).

use crate::kernels::SharedOut as Out;
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

/// One Q5_0 block, bit for bit GGML's: an f16 scale, the fifth bit of each value (bit `i` of
/// `qh`, little-endian, for value `i`) and their low four bits (`qs[i]` holds value `i` in its
/// low nibble and value `i + 16` in its high nibble): 22 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Q5Block {
    pub d: f16,
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}

const _: () = assert!(std::mem::size_of::<Q5Block>() == 22);

/// A weight block the kernels multiply against Q8_0 token blocks: a scale and 32 signed
/// values.
pub trait WeightBlock: Copy + Send + Sync + 'static {
    /// Whether values must be unpacked from bits (worth doing once per call for prompts).
    const PACKED: bool;
    fn scale(&self) -> f32;
    /// The same block as Q8_0 (exact: the values fit in i8).
    fn to_q8(&self) -> Block;
    /// A slice of these blocks as [`Weights`].
    fn view(w: &[Self]) -> Weights<'_>;
    /// The slice itself where these are Q8_0 blocks.
    fn as_q8(w: &[Self]) -> Option<&[Block]>;
    /// The 32 values, as `i8`.
    fn values(&self) -> [i8; QK];
    /// The same values in one AVX2 register.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load(&self) -> std::arch::x86_64::__m256i;
}

impl WeightBlock for Block {
    const PACKED: bool = false;

    fn view(w: &[Block]) -> Weights<'_> {
        Weights::Q8_0(w)
    }

    fn as_q8(w: &[Block]) -> Option<&[Block]> {
        Some(w)
    }

    fn to_q8(&self) -> Block {
        *self
    }

    #[inline(always)]
    fn scale(&self) -> f32 {
        self.d.to_f32()
    }

    fn values(&self) -> [i8; QK] {
        self.qs
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load(&self) -> std::arch::x86_64::__m256i {
        // SAFETY: a block's 32 quants are 32 readable bytes.
        unsafe {
            std::arch::x86_64::_mm256_loadu_si256(
                self.qs.as_ptr() as *const std::arch::x86_64::__m256i
            )
        }
    }
}

impl WeightBlock for Q5Block {
    const PACKED: bool = true;

    fn view(w: &[Q5Block]) -> Weights<'_> {
        Weights::Q5_0(w)
    }

    fn as_q8(_: &[Q5Block]) -> Option<&[Block]> {
        None
    }

    fn to_q8(&self) -> Block {
        Block {
            d: self.d,
            qs: self.values(),
        }
    }

    #[inline(always)]
    fn scale(&self) -> f32 {
        self.d.to_f32()
    }

    /// GGML's `dequantize_row_q5_0`, before the scale.
    fn values(&self) -> [i8; QK] {
        let qh = u32::from_le_bytes(self.qh);
        let mut v = [0i8; QK];
        for j in 0..QK / 2 {
            let h0 = ((qh >> j) << 4) & 0x10;
            let h1 = (qh >> (j + 12)) & 0x10;
            v[j] = ((self.qs[j] as u32 & 0x0F) | h0) as i8 - 16;
            v[j + QK / 2] = ((self.qs[j] as u32 >> 4) | h1) as i8 - 16;
        }
        v
    }

    /// Low nibbles then high nibbles (values 0..16, 16..32), and where a value's fifth bit is
    /// clear, 0xF0 or-ed in: `n | 0xF0` is `n - 16` as a signed byte, `n | 0x10` minus 16 is
    /// `n` (GGML's AVX2 path).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load(&self) -> std::arch::x86_64::__m256i {
        use std::arch::x86_64::*;
        // SAFETY: 16 readable bytes of `qs`; the rest is register arithmetic the caller
        // vouches the CPU has.
        unsafe {
            let tmp = _mm_loadu_si128(self.qs.as_ptr() as *const __m128i);
            let low = _mm_set1_epi8(0x0F);
            let lo = _mm_and_si128(tmp, low);
            let hi = _mm_and_si128(_mm_srli_epi16(tmp, 4), low);
            let bx = _mm256_set_m128i(hi, lo);
            // Byte i of `set` is 0xFF where bit i of qh is set.
            let bits = _mm256_shuffle_epi8(
                _mm256_set1_epi32(u32::from_le_bytes(self.qh) as i32),
                _mm256_set_epi64x(
                    0x0303030303030303,
                    0x0202020202020202,
                    0x0101010101010101,
                    0,
                ),
            );
            let set = _mm256_cmpeq_epi8(
                _mm256_or_si256(bits, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)),
                _mm256_set1_epi64x(-1),
            );
            _mm256_or_si256(bx, _mm256_andnot_si256(set, _mm256_set1_epi8(0xF0u8 as i8)))
        }
    }
}

/// Token rows per tile.
pub const RM: usize = 4;
/// Weight rows per tile.
pub const RN: usize = 3;

/// Views `bytes` as blocks; `None` when the length or alignment is not that of whole blocks.
fn blocks<W: WeightBlock>(bytes: &[u8]) -> Option<&[W]> {
    let size = std::mem::size_of::<W>();
    if bytes.len() % size != 0 || (bytes.as_ptr() as usize) % std::mem::align_of::<W>() != 0 {
        return None;
    }
    // SAFETY: both block types are plain data (no invalid bit patterns), the length is a whole
    // number of blocks and the pointer is aligned for it.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const W, bytes.len() / size) })
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

/// `out[i, j] = Σ_b a[i, b] · w[j, b]` for `m` token rows (`a`: `m × k/32` blocks), `n` weight
/// rows (`w`: `n × k/32` blocks); `out` is `m × n` row-major. Column tiles are spread over
/// candle's CPU thread pool (the one its own quantized matmuls use, which spins between calls:
/// a decode step makes about seven of these calls per layer, and waking rayon's sleeping
/// workers for each cost more than the product itself on the small models).
pub fn matmul(a: &[Block], w: Weights<'_>, m: usize, n: usize, k: usize, out: &mut [f32]) {
    matmul_with(Simd::detect(), a, w, m, n, k, out)
}

/// [`matmul`] with the instruction set chosen by the caller (the tests compare them).
fn matmul_with(
    simd: Simd,
    a: &[Block],
    w: Weights<'_>,
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
) {
    // Not generic itself, so that the kernels are compiled (and optimised) in this crate
    // whoever calls them.
    match w {
        Weights::Q8_0(w) => product(simd, a, w, m, n, k, out),
        Weights::Q5_0(w) => product(simd, a, w, m, n, k, out),
    }
}

/// The instructions the kernels may use here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Simd {
    Scalar,
    /// AVX2 and FMA.
    Avx2,
    /// AVX2, FMA and AVX-512 VNNI with VL (`vpdpbusd` on 256-bit registers).
    Vnni,
}

impl Simd {
    fn detect() -> Simd {
        if !crate::kernels::has_avx2_fma() {
            return Simd::Scalar;
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512vl")
        {
            return Simd::Vnni;
        }
        Simd::Avx2
    }

    /// Every level this CPU can run, lowest first.
    #[cfg(test)]
    fn available() -> Vec<Simd> {
        let top = Simd::detect();
        [Simd::Scalar, Simd::Avx2, Simd::Vnni]
            .into_iter()
            .filter(|&s| s as u8 <= top as u8)
            .collect()
    }
}

/// A weight matrix's blocks, in one of the types the kernels take.
#[derive(Clone, Copy)]
pub enum Weights<'a> {
    Q8_0(&'a [Block]),
    Q5_0(&'a [Q5Block]),
}

impl<'a> Weights<'a> {
    /// Views a tensor's storage; `None` for other types, or a length or alignment that is not
    /// that of whole blocks.
    pub fn new(dtype: candle_core::quantized::GgmlDType, bytes: &'a [u8]) -> Option<Weights<'a>> {
        use candle_core::quantized::GgmlDType;
        match dtype {
            GgmlDType::Q8_0 => blocks(bytes).map(Weights::Q8_0),
            GgmlDType::Q5_0 => blocks(bytes).map(Weights::Q5_0),
            _ => None,
        }
    }
}

fn product<W: WeightBlock>(
    simd: Simd,
    a: &[Block],
    w: &[W],
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
) {
    let kb = k / QK;
    assert!(k % QK == 0 && a.len() >= m * kb && w.len() >= n * kb && out.len() >= m * n);
    let ptr = Out(out.as_mut_ptr());
    if m == 1 {
        return matvec(simd, a, w, n, kb, out);
    }
    candle_core::utils::barrier_pool().execute_chunked(n.div_ceil(RN), |tiles| {
        let ptr = ptr;
        let (j0, j1) = (tiles.start * RN, (tiles.end * RN).min(n));
        // A packed type is unpacked to Q8_0 once for the whole call (exactly: its values fit
        // in i8) rather than once per tile of token rows.
        let unpacked: Vec<Block>;
        let (w, jw) = if W::PACKED && m > RM {
            unpacked = unpack(&w[j0 * kb..j1 * kb], simd != Simd::Scalar);
            (Weights::Q8_0(&unpacked), 0)
        } else {
            (W::view(w), j0)
        };
        for i0 in (0..m).step_by(RM) {
            let rm = RM.min(m - i0);
            let mut j = 0;
            while j < j1 - j0 {
                let rn = RN.min(j1 - j0 - j);
                // SAFETY: rows i0..i0+rm and columns j0+j..j0+j+rn lie inside `out` (asserted
                // above); this call alone writes columns j0..j1.
                unsafe {
                    match w {
                        Weights::Q8_0(w) => {
                            tile(simd, a, w, kb, i0, rm, jw + j, rn, ptr.0.add(j0 - jw), n)
                        }
                        Weights::Q5_0(w) => {
                            tile(simd, a, w, kb, i0, rm, jw + j, rn, ptr.0.add(j0 - jw), n)
                        }
                    }
                };
                j += rn;
            }
        }
    });
}

/// `w` as Q8_0 blocks (exact), with AVX2 where `fast`.
fn unpack<W: WeightBlock>(w: &[W], fast: bool) -> Vec<Block> {
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: `fast` says the CPU has AVX2.
        return unsafe { avx::unpack(w) };
    }
    w.iter().map(WeightBlock::to_q8).collect()
}

/// One token row (a decode step): each weight row is read front to back on its own, which the
/// memory system streams faster than the interleaved rows of a tile (`sextant-bench kernels`
/// with weights coming from memory).
fn matvec<W: WeightBlock>(simd: Simd, a: &[Block], w: &[W], n: usize, kb: usize, out: &mut [f32]) {
    let ptr = Out(out.as_mut_ptr());
    candle_core::utils::barrier_pool().execute_chunked(n, |rows| {
        let ptr = ptr;
        for j in rows {
            let row = &w[j * kb..(j + 1) * kb];
            // SAFETY: each level's instructions are the ones `Simd::detect` found.
            #[cfg(target_arch = "x86_64")]
            let v = match simd {
                Simd::Vnni => unsafe { avx::row_vnni(&a[..kb], row) },
                Simd::Avx2 => unsafe { avx::row(&a[..kb], row) },
                Simd::Scalar => scalar_row(&a[..kb], row),
            };
            #[cfg(not(target_arch = "x86_64"))]
            let v = scalar_row(&a[..kb], row);
            // SAFETY: j < n ≤ out.len(); this call alone writes index j.
            unsafe { *ptr.0.add(j) = v };
        }
    });
}

fn scalar_row<W: WeightBlock>(a: &[Block], w: &[W]) -> f32 {
    let mut sums = [[0f32; RN]; RM];
    scalar_tile(a, w, a.len(), 1, 1, &mut sums);
    sums[0][0]
}

/// Calls `$kernel!(R, C)` with the tile's shape as literals (`R` ≤ [`RM`], `C` ≤ [`RN`]), so
/// that each shape gets its own const-generic kernel.
macro_rules! each_tile_shape {
    ($rm:expr, $rn:expr, $kernel:ident) => {
        match ($rm, $rn) {
            (4, 3) => $kernel!(4, 3),
            (4, 2) => $kernel!(4, 2),
            (4, 1) => $kernel!(4, 1),
            (3, 3) => $kernel!(3, 3),
            (3, 2) => $kernel!(3, 2),
            (3, 1) => $kernel!(3, 1),
            (2, 3) => $kernel!(2, 3),
            (2, 2) => $kernel!(2, 2),
            (2, 1) => $kernel!(2, 1),
            (1, 3) => $kernel!(1, 3),
            (1, 2) => $kernel!(1, 2),
            _ => $kernel!(1, 1),
        }
    };
}

/// One tile: rows `i0..i0+rm` of `a` against rows `j0..j0+rn` of `w`, into `out` (row stride
/// `ldo`).
///
/// # Safety
/// `out` must be valid for the tile's writes.
#[allow(clippy::too_many_arguments)]
unsafe fn tile<W: WeightBlock>(
    simd: Simd,
    a: &[Block],
    w: &[W],
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
    if let (Simd::Vnni, Some(w)) = (simd, W::as_q8(w)) {
        macro_rules! vnni {
            ($r:literal, $c:literal) => {
                avx::tile_vnni::<$r, $c>(a, w, kb, &mut sums)
            };
        }
        // SAFETY: `Simd::detect` found AVX2, FMA and AVX-512 VNNI/VL.
        unsafe { each_tile_shape!(rm, rn, vnni) };
        store(&sums, rm, rn, i0, j0, out, ldo);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if simd != Simd::Scalar {
        macro_rules! avx2 {
            ($r:literal, $c:literal) => {
                avx::tile::<W, $r, $c>(a, w, kb, &mut sums)
            };
        }
        // SAFETY: `Simd::detect` found AVX2 and FMA.
        unsafe { each_tile_shape!(rm, rn, avx2) };
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
fn scalar_tile<W: WeightBlock>(
    a: &[Block],
    w: &[W],
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
                        .zip(&y.values())
                        .map(|(&p, &q)| p as i32 * q as i32)
                        .sum();
                acc += dot as f32 * (x.d.to_f32() * y.scale());
            }
            *s = acc;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{Block, WeightBlock, RM, RN};
    use std::arch::x86_64::*;

    /// Eight i32 partial sums of `x · y` (32 signed bytes each; lane `l` sums bytes `4l..4l+4`)
    /// as floats: |x| · sign(y, x), unsigned × signed. With `VNNI`, one `vpdpbusd`; without,
    /// `maddubs` (pairs to i16, which cannot saturate: |x| ≤ 127) and `madd` (pairs of i16 to
    /// i32). The lanes hold the same integers either way.
    ///
    /// # Safety
    /// Inlined only into functions with AVX2 (and, for `VNNI`, AVX-512 VNNI and VL) enabled.
    #[inline(always)]
    unsafe fn dot<const VNNI: bool>(ax: __m256i, x: __m256i, y: __m256i) -> __m256 {
        // SAFETY: the caller's target features.
        unsafe {
            let sy = _mm256_sign_epi8(y, x);
            if VNNI {
                _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy))
            } else {
                let pairs = _mm256_maddubs_epi16(ax, sy);
                _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), pairs))
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum(x: __m256) -> f32 {
        let r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
        let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
        let r = _mm_add_ss(r, _mm_movehdup_ps(r));
        _mm_cvtss_f32(r)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn unpack<W: WeightBlock>(w: &[W]) -> Vec<Block> {
        w.iter()
            .map(|b| {
                let mut qs = [0i8; 32];
                // SAFETY: the caller has AVX2; 32 bytes written into a 32-byte array.
                unsafe { _mm256_storeu_si256(qs.as_mut_ptr() as *mut __m256i, b.load()) };
                Block {
                    d: half::f16::from_f32(b.scale()),
                    qs,
                }
            })
            .collect()
    }

    /// One token row against one weight row, two blocks per step into two accumulators (one
    /// accumulator, candle's order, is 10-40% slower on the decode shapes: the FMA chain
    /// waits on itself).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn row<W: WeightBlock>(a: &[Block], w: &[W]) -> f32 {
        // SAFETY: AVX2 and FMA enabled here.
        unsafe { row_body::<W, false>(a, w) }
    }

    /// [`row`] with `vpdpbusd`.
    #[target_feature(enable = "avx2,fma,avx512vnni,avx512vl")]
    pub(super) unsafe fn row_vnni<W: WeightBlock>(a: &[Block], w: &[W]) -> f32 {
        // SAFETY: AVX2, FMA and AVX-512 VNNI/VL enabled here.
        unsafe { row_body::<W, true>(a, w) }
    }

    /// # Safety
    /// Inlined only into [`row`] and [`row_vnni`], whose target features it needs.
    #[inline(always)]
    unsafe fn row_body<W: WeightBlock, const VNNI: bool>(a: &[Block], w: &[W]) -> f32 {
        let mut acc = [_mm256_setzero_ps(); 2];
        let (xs, ys) = (a.chunks_exact(2), w.chunks_exact(2));
        // SAFETY (all three `row_step`s and `hsum`): the caller's target features.
        if let (Some(x), Some(y)) = (xs.remainder().first(), ys.remainder().first()) {
            acc[1] = unsafe { row_step::<W, VNNI>(acc[1], x, y) };
        }
        for (x, y) in xs.zip(ys) {
            acc[0] = unsafe { row_step::<W, VNNI>(acc[0], &x[0], &y[0]) };
            acc[1] = unsafe { row_step::<W, VNNI>(acc[1], &x[1], &y[1]) };
        }
        unsafe { hsum(_mm256_add_ps(acc[0], acc[1])) }
    }

    /// `acc + d_x d_y · (x · y)` for one pair of blocks. A function rather than a closure so
    /// that it is inlined with the caller's target features.
    ///
    /// # Safety
    /// As [`dot`].
    #[inline(always)]
    unsafe fn row_step<W: WeightBlock, const VNNI: bool>(acc: __m256, x: &Block, y: &W) -> __m256 {
        // SAFETY: a block's 32 quants are 32 readable bytes; the caller's target features.
        unsafe {
            let xv = _mm256_loadu_si256(x.qs.as_ptr() as *const __m256i);
            let yv = y.load();
            let s = _mm256_set1_ps(x.d.to_f32() * y.scale());
            let d = dot::<VNNI>(_mm256_sign_epi8(xv, xv), xv, yv);
            _mm256_fmadd_ps(s, d, acc)
        }
    }

    /// `R × C` tile: for each block, the `C` weight blocks are loaded once and met by each of
    /// the `R` token blocks; `R · C` accumulators of eight lanes each.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile<W: WeightBlock, const R: usize, const C: usize>(
        a: &[Block],
        w: &[W],
        kb: usize,
        sums: &mut [[f32; RN]; RM],
    ) {
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        for b in 0..kb {
            let mut wv = [_mm256_setzero_si256(); C];
            let mut wd = [0f32; C];
            for j in 0..C {
                let blk = &w[j * kb + b];
                // SAFETY: the caller has AVX2.
                wv[j] = unsafe { blk.load() };
                wd[j] = blk.scale();
            }
            for i in 0..R {
                let blk = &a[i * kb + b];
                // SAFETY: as above.
                let x = unsafe { _mm256_loadu_si256(blk.qs.as_ptr() as *const __m256i) };
                let ax = _mm256_sign_epi8(x, x);
                let ad = blk.d.to_f32();
                for j in 0..C {
                    let s = _mm256_set1_ps(ad * wd[j]);
                    // SAFETY: AVX2 enabled here.
                    let d = unsafe { dot::<false>(ax, x, wv[j]) };
                    acc[i][j] = _mm256_fmadd_ps(s, d, acc[i][j]);
                }
            }
        }
        for i in 0..R {
            for j in 0..C {
                sums[i][j] = hsum(acc[i][j]);
            }
        }
    }

    /// [`tile`] for Q8_0 weights with `vpdpbusd`, which multiplies unsigned by signed bytes:
    /// the token bytes go in as `x + 128` (unsigned: Q8_0 tokens are within ±127), and each
    /// integer sum starts from `-128 · Σ w` over its lane's four weights, so it comes out as
    /// `Σ x · w` exactly, the same lanes as [`tile`]'s. Per pair of blocks that is one integer
    /// instruction instead of three (sign, `maddubs`, `madd`); the correction is per weight
    /// block, shared by the tile's `R` token rows. Needs 23 of the 32 registers AVX-512 gives.
    #[target_feature(enable = "avx2,fma,avx512vnni,avx512vl")]
    pub(super) unsafe fn tile_vnni<const R: usize, const C: usize>(
        a: &[Block],
        w: &[Block],
        kb: usize,
        sums: &mut [[f32; RN]; RM],
    ) {
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let bias = _mm256_set1_epi8(0x80u8 as i8);
        let zero = _mm256_setzero_si256();
        for b in 0..kb {
            let mut wv = [zero; C];
            let mut start = [zero; C];
            let mut wd = [_mm256_setzero_ps(); C];
            for j in 0..C {
                let blk = &w[j * kb + b];
                // SAFETY: a block's 32 quants are 32 readable bytes.
                wv[j] = unsafe { _mm256_loadu_si256(blk.qs.as_ptr() as *const __m256i) };
                start[j] = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, bias, wv[j]));
                wd[j] = _mm256_set1_ps(blk.d.to_f32());
            }
            for i in 0..R {
                let blk = &a[i * kb + b];
                // SAFETY: as above.
                let x = unsafe { _mm256_loadu_si256(blk.qs.as_ptr() as *const __m256i) };
                let u = _mm256_xor_si256(x, bias);
                let ad = _mm256_set1_ps(blk.d.to_f32());
                for j in 0..C {
                    let d = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(start[j], u, wv[j]));
                    acc[i][j] = _mm256_fmadd_ps(_mm256_mul_ps(ad, wd[j]), d, acc[i][j]);
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

    /// Against candle's own matmul (its quantisation of the tokens, its `vec_dot`) for Q8_0 and
    /// Q5_0 weights, on shapes with every kind of edge tile, one row (decode) included: the
    /// same products up to float summation order.
    #[test]
    fn matches_candles_matmul() {
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0] {
            for (m, n, k) in [
                (1, 1, 32),
                (1, 9, 128),
                (5, 7, 64),
                (17, 10, 576),
                (33, 29, 896),
                (4, 3, 96),
            ] {
                if dtype == GgmlDType::Q5_0 && (k / QK) % 2 == 1 {
                    // candle's Q5_0 product asserts an even number of blocks.
                    continue;
                }
                let x = data(m, k, 1 + m as u64);
                let wf = data(n, k, 99 + n as u64);
                let wt = Tensor::from_vec(wf, (n, k), &Device::Cpu).unwrap();
                let q = std::sync::Arc::new(QTensor::quantize(&wt, dtype).unwrap());
                let bytes = q.data().unwrap();
                let mut a = Vec::new();
                quantize_rows(&x, k, &mut a);
                let mut ours = vec![0f32; m * n];
                let mut scalar = [[0f32; RN]; RM];
                let w = if dtype == GgmlDType::Q8_0 {
                    let w = blocks::<Block>(&bytes).expect("aligned whole blocks");
                    scalar_tile(&a, w, k / QK, 1, 1, &mut scalar);
                    Weights::Q8_0(w)
                } else {
                    let w = blocks::<Q5Block>(&bytes).expect("aligned whole blocks");
                    scalar_tile(&a, w, k / QK, 1, 1, &mut scalar);
                    Weights::Q5_0(w)
                };
                matmul(&a, w, m, n, k, &mut ours);
                // Each instruction set the CPU has; AVX2 and VNNI form the same lanes, so the
                // same floats bit for bit.
                let mut by_level = Vec::new();
                for simd in Simd::available() {
                    let mut o = vec![0f32; m * n];
                    matmul_with(simd, &a, w, m, n, k, &mut o);
                    by_level.push((simd, o));
                }
                for (simd, o) in &by_level {
                    if *simd != Simd::Scalar {
                        assert_eq!(o, &by_level[1].1, "{simd:?} vs Avx2, {dtype:?} {m}x{n}x{k}");
                    }
                    for (i, (x, y)) in o.iter().zip(&ours).enumerate() {
                        assert!(
                            (x - y).abs() <= 1e-4 * y.abs().max(1.0),
                            "{simd:?} {dtype:?} {m}x{n}x{k} at {i}: {x} vs {y}"
                        );
                    }
                }
                let qm = candle_core::quantized::QMatMul::from_arc(q.clone()).unwrap();
                let xt = Tensor::from_vec(x.clone(), (m, k), &Device::Cpu).unwrap();
                let want: Vec<f32> = qm
                    .forward(&xt)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                for (i, (o, r)) in ours.iter().zip(&want).enumerate() {
                    assert!(
                        (o - r).abs() <= 1e-3 * r.abs().max(1.0),
                        "{dtype:?} {m}x{n}x{k} at {i}: {o} vs candle {r}"
                    );
                }
                assert!((scalar[0][0] - ours[0]).abs() <= 1e-3 * ours[0].abs().max(1.0));
            }
        }
    }

    /// Q5_0's AVX2 unpacking against GGML's scalar definition, on every bit pattern of the
    /// fifth bits.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn q5_0_values_unpack_alike() {
        if Simd::detect() == Simd::Scalar {
            return;
        }
        for seed in 0..64u32 {
            let qh = seed.wrapping_mul(0x9E37_79B9).rotate_left(seed % 32);
            let b = Q5Block {
                d: f16::from_f32(1.0),
                qh: qh.to_le_bytes(),
                qs: std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(seed as u8)),
            };
            let mut got = [0i8; QK];
            // SAFETY: AVX2 checked above; 32 bytes written into a 32-byte array.
            unsafe {
                std::arch::x86_64::_mm256_storeu_si256(
                    got.as_mut_ptr() as *mut std::arch::x86_64::__m256i,
                    b.load(),
                )
            };
            assert_eq!(got, b.values(), "qh = {qh:#x}");
            assert!(got.iter().all(|v| (-16..16).contains(v)));
        }
    }
}
