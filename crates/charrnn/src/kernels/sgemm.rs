//! A single-precision GEMM for the shapes of a recurrent network: `C <- A B + beta C` where B's
//! and C's columns are contiguous (unit column stride) and A has any strides.
//!
//! Our products are skinny (B rows of H per step; T*B rows per chunk) and small, where a
//! general GEMM spends its time packing operands. This one packs nothing: B's rows are read in
//! place (the model keeps transposed copies of the weights it multiplies on the right), A's
//! elements are broadcast straight from memory, so the same kernel serves `A B` and `A^T B`.
//!
//! The micro-kernel holds an `MR x NR` tile of C in registers (NR = two vectors) and walks k;
//! the macro loop blocks k by [`KC`] and n by [`NC`] so a block of B stays in L2. Column tails
//! use masked loads and stores; row tails use a smaller `MR`. There are AVX-512 and AVX2+FMA
//! versions, chosen once at run time; without either, [`sgemm`] returns `false` and the caller
//! falls back to `matrixmultiply`.
//!
//! Safety: the entry points are `unsafe fn`s over raw pointers and strides, and their loops
//! check no index: the caller vouches that every element the formulas reach at in-range
//! indices is valid (the safe [`super::gemm`] and [`super::gemm_packed`] get that from their
//! checked [`super::MatRef`]/[`super::MatMut`] views). The entry points handle empty shapes
//! and `k == 0` themselves, so the kernels below always see `m, n, k >= 1` and never form a
//! pointer outside the matrices.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Depth of a block of k.
pub const KC: usize = 256;
/// Width of a block of n.
pub const NC: usize = 512;

/// What the CPU offers, detected once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Avx512,
    Avx2,
    None,
}

/// The SIMD level [`sgemm`] uses on this machine.
pub fn level() -> Level {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("CHARRNN_NO_SIMD").is_some() {
                return Level::None;
            }
            if is_x86_feature_detected!("avx512f") {
                return Level::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Level::Avx2;
            }
        }
        Level::None
    })
}

/// `C[m x n] <- A[m x k] B[k x n] + (if accumulate { C } else { 0 })`.
///
/// Element `(i, p)` of A is `a[i * rsa + p * csa]`, `(p, j)` of B is `b[p * rsb + j]`, `(i, j)`
/// of C is `c[i * rsc + j]`. Returns `false` (doing nothing) when no SIMD kernel exists here.
/// Any of `m`, `n`, `k` may be 0 (with `k == 0`, C becomes 0, or stays as it is when
/// accumulating).
///
/// # Safety
/// For every `i < m`, `p < k`, `j < n`: `a.add(i * rsa + p * csa)` and `b.add(p * rsb + j)` are
/// valid for reads of an aligned f32, and `c.add(i * rsc + j)` for reads and writes of one;
/// those index computations do not overflow. The elements of C are distinct (`rsc >= n` when
/// `m > 1`) and overlap neither A nor B, and nothing else writes A, B or C during the call.
/// Nothing is required of a matrix with no elements.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    accumulate: bool,
    c: *mut f32,
    rsc: usize,
) -> bool {
    // SAFETY: the caller's contract is `sgemm_at`'s but for the level, which `level` detected
    // on this CPU.
    unsafe { sgemm_at(level(), m, n, k, a, rsa, csa, b, rsb, accumulate, c, rsc) }
}

/// [`sgemm`] with a chosen SIMD level, which must be one this CPU has (see [`level`]), so the
/// tests can run every version on a machine that has them all.
///
/// # Safety
/// As [`sgemm`], and the CPU must have `level`'s features (AVX-512F for [`Level::Avx512`],
/// AVX2 and FMA for [`Level::Avx2`]).
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_at(
    level: Level,
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    accumulate: bool,
    c: *mut f32,
    rsc: usize,
) -> bool {
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 | Level::Avx2 => {}
        _ => return false,
    }
    // The shapes the kernels do not take (they would form pointers past empty matrices).
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        if !accumulate {
            // SAFETY: C is m x n with m, n >= 1, valid for writes (the contract).
            unsafe { zero_rows(m, n, c, rsc) };
        }
        return true;
    }
    let args = Args {
        m,
        n,
        k,
        a,
        rsa,
        csa,
        b,
        rsb,
        accumulate,
        c,
        rsc,
    };
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller vouches that the CPU has AVX-512F and for A, B and C (`args`
        // holds its arguments unchanged), and m, n, k >= 1 (checked above).
        Level::Avx512 => unsafe { run_avx512(&args) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2 and FMA.
        Level::Avx2 => unsafe { run_avx2(&args) },
        _ => unreachable!("levels without a kernel returned above"),
    }
    true
}

/// `C[m x n] <- 0`: the product of an `m x 0` and a `0 x n` matrix.
///
/// # Safety
/// `c.add(i * rsc + j)` is valid for writes of an aligned f32 for every `i < m`, `j < n`.
unsafe fn zero_rows(m: usize, n: usize, c: *mut f32, rsc: usize) {
    for i in 0..m {
        // SAFETY: row i is n contiguous f32s from c + i * rsc, valid for writes (the
        // contract); all-zero bits are 0.0.
        unsafe { std::ptr::write_bytes(c.add(i * rsc), 0, n) };
    }
}

/// The arguments of [`sgemm`] (B may be panels: see [`sgemm_panels`]), passed by reference to
/// the loops.
struct Args {
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    accumulate: bool,
    c: *mut f32,
    rsc: usize,
}

/// One SIMD register type and the operations the micro-kernel needs.
///
/// Every method may run instructions of the type's target feature (AVX-512F for [`Z`], AVX2
/// and FMA for [`Y`]), hence `unsafe`: the caller must know that the CPU has it.
///
/// # Safety
/// The kernels' bounds rest on what an implementation promises: `L` is the number of f32
/// lanes; `mask(n)` enables exactly the lanes `0..min(n, L)`; `load` and `store` touch memory
/// only at `p.add(l)` for the lanes `l` their mask enables (a disabled lane may lie past the
/// end of an allocation), and `splat` reads only the one f32 at `p`.
#[cfg(target_arch = "x86_64")]
unsafe trait Simd: Copy {
    /// Lanes.
    const L: usize;
    /// Which lanes a load or a store touches.
    type Mask: Copy;
    /// The mask of lanes `0..min(n, L)`.
    ///
    /// # Safety
    /// The CPU has the type's target feature.
    unsafe fn mask(n: usize) -> Self::Mask;
    /// All lanes 0.
    ///
    /// # Safety
    /// The CPU has the type's target feature.
    unsafe fn zero() -> Self;
    /// The f32 at `p` in every lane.
    ///
    /// # Safety
    /// The CPU has the type's target feature; `p` is valid for reads of an aligned f32.
    unsafe fn splat(p: *const f32) -> Self;
    /// Lane `l` from `p.add(l)` where `m` enables it, 0 elsewhere.
    ///
    /// # Safety
    /// The CPU has the type's target feature; `p.add(l)` is valid for reads of an aligned f32
    /// for every lane `l` that `m` enables (the others need not be).
    unsafe fn load(p: *const f32, m: Self::Mask) -> Self;
    /// Lane `l` of `v` to `p.add(l)` where `m` enables it; the other places are not touched.
    ///
    /// # Safety
    /// The CPU has the type's target feature; `p.add(l)` is valid for writes of an aligned f32
    /// for every lane `l` that `m` enables (the others need not be).
    unsafe fn store(p: *mut f32, v: Self, m: Self::Mask);
    /// All `L` lanes from `p.add(0..L)`: [`Simd::load`] with every lane enabled, without the
    /// mask (which AVX2 has to keep in a register and AMD's Zen runs slower).
    ///
    /// # Safety
    /// The CPU has the type's target feature; `p.add(l)` is valid for reads of an aligned f32
    /// for every `l < L`.
    unsafe fn load_full(p: *const f32) -> Self;
    /// All `L` lanes of `v` to `p.add(0..L)`.
    ///
    /// # Safety
    /// The CPU has the type's target feature; `p.add(l)` is valid for writes of an aligned f32
    /// for every `l < L`.
    unsafe fn store_full(p: *mut f32, v: Self);
    /// `a * b + c`, fused, lane by lane.
    ///
    /// # Safety
    /// The CPU has the type's target feature.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Z(__m512);

// SAFETY: a `__m512` holds 16 f32s; `mask` sets exactly the low min(n, 16) bits; the masked
// AVX-512 load and store touch only the lanes whose mask bit is set (the others do not fault),
// and `splat` reads the one f32 at `p`.
#[cfg(target_arch = "x86_64")]
unsafe impl Simd for Z {
    const L: usize = 16;
    type Mask = __mmask16;
    #[inline(always)]
    unsafe fn mask(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as u16
        }
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller vouches for AVX-512F.
        unsafe { Z(_mm512_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        // SAFETY: the caller vouches for AVX-512F and that `p` is valid for an aligned read.
        unsafe { Z(_mm512_set1_ps(*p)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, m: __mmask16) -> Self {
        // SAFETY: the caller vouches for AVX-512F and for the lanes `m` enables; the
        // instruction reads only those (an unaligned load: any f32 alignment will do).
        unsafe { Z(_mm512_maskz_loadu_ps(m, p)) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self, m: __mmask16) {
        // SAFETY: as in `load`, for writes.
        unsafe { _mm512_mask_storeu_ps(p, m, v.0) }
    }
    #[inline(always)]
    unsafe fn load_full(p: *const f32) -> Self {
        // SAFETY: the caller vouches for AVX-512F and for the 16 f32s at `p` (an unaligned
        // load).
        unsafe { Z(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store_full(p: *mut f32, v: Self) {
        // SAFETY: as in `load_full`, for writes.
        unsafe { _mm512_storeu_ps(p, v.0) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the caller vouches for AVX-512F.
        unsafe { Z(_mm512_fmadd_ps(a.0, b.0, c.0)) }
    }
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Y(__m256);

// SAFETY: a `__m256` holds 8 f32s; `mask` sets the sign bit of exactly the lanes below
// min(n, 8) (lane index < n, compared as i32 after the clamp); `vmaskmovps` loads and stores
// only the lanes whose mask sign bit is set (the others do not fault), and `splat` reads the
// one f32 at `p`.
#[cfg(target_arch = "x86_64")]
unsafe impl Simd for Y {
    const L: usize = 8;
    type Mask = __m256i;
    #[inline(always)]
    unsafe fn mask(n: usize) -> __m256i {
        let n = n.min(8) as i32;
        // SAFETY: the caller vouches for AVX2; no memory is touched.
        unsafe {
            let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx)
        }
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller vouches for AVX (part of AVX2).
        unsafe { Y(_mm256_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        // SAFETY: the caller vouches for AVX and that `p` is valid for an aligned read, so
        // `&*p` is a valid reference for this call.
        unsafe { Y(_mm256_broadcast_ss(&*p)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, m: __m256i) -> Self {
        // SAFETY: the caller vouches for AVX and for the lanes `m` enables; the instruction
        // reads only those.
        unsafe { Y(_mm256_maskload_ps(p, m)) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self, m: __m256i) {
        // SAFETY: as in `load`, for writes.
        unsafe { _mm256_maskstore_ps(p, m, v.0) }
    }
    #[inline(always)]
    unsafe fn load_full(p: *const f32) -> Self {
        // SAFETY: the caller vouches for AVX and for the 8 f32s at `p` (an unaligned load).
        unsafe { Y(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store_full(p: *mut f32, v: Self) {
        // SAFETY: as in `load_full`, for writes.
        unsafe { _mm256_storeu_ps(p, v.0) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the caller vouches for FMA.
        unsafe { Y(_mm256_fmadd_ps(a.0, b.0, c.0)) }
    }
}

/// `C[MR x nr] (+)= A[MR x kc] B[kc x nr]` for `nr <= 2 * S::L`, the tile held in registers.
///
/// # Safety
/// The CPU has `S`'s target feature; `nr <= 2 * S::L`; for every `i < MR`, `p < kc`, `j < nr`:
/// `a.add(i * rsa + p * csa)` and `b.add(p * rsb + j)` are valid for reads of an aligned f32,
/// `c.add(i * rsc + j)` for reads and writes of one, those index computations do not overflow,
/// and C's elements are distinct and overlap neither A nor B.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
// Register tiles are indexed by row on purpose: the loops unroll into named registers.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn micro<S: Simd, const MR: usize>(
    kc: usize,
    nr: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    accumulate: bool,
    c: *mut f32,
    rsc: usize,
) {
    // SAFETY: the CPU has S's feature (the contract). Every access goes through `S::load`,
    // `S::store`, `S::load_full`, `S::store_full` or `S::splat`. The unmasked ones are used
    // only when nr == 2L, where columns 0..2L of every row are in range. `m0` enables lanes 0..min(nr, L) and `m1` lanes
    // 0..nr - L, so a load or store at `row + j0` touches only columns j0 + l < nr of that
    // row; the second vector (`row + L`) is formed only when `wide` (nr > L), so it points
    // inside the row. C rows i < MR, B rows p < kc and A elements (i, p) are in the
    // contract's ranges.
    unsafe {
        let mut acc0 = [S::zero(); MR];
        let mut acc1 = [S::zero(); MR];
        if nr == 2 * S::L {
            // A whole tile (every tile but a column tail): plain loads and stores, and no
            // masks taking registers from the accumulators (AVX2 has only 16).
            if accumulate {
                for i in 0..MR {
                    acc0[i] = S::load_full(c.add(i * rsc));
                    acc1[i] = S::load_full(c.add(i * rsc + S::L));
                }
            }
            for p in 0..kc {
                let bp = b.add(p * rsb);
                let b0 = S::load_full(bp);
                let b1 = S::load_full(bp.add(S::L));
                let ap = a.add(p * csa);
                for i in 0..MR {
                    let x = S::splat(ap.add(i * rsa));
                    acc0[i] = S::fma(x, b0, acc0[i]);
                    acc1[i] = S::fma(x, b1, acc1[i]);
                }
            }
            for i in 0..MR {
                S::store_full(c.add(i * rsc), acc0[i]);
                S::store_full(c.add(i * rsc + S::L), acc1[i]);
            }
            return;
        }
        let m0 = S::mask(nr);
        let m1 = S::mask(nr.saturating_sub(S::L));
        let wide = nr > S::L;
        if accumulate {
            for i in 0..MR {
                acc0[i] = S::load(c.add(i * rsc), m0);
                if wide {
                    acc1[i] = S::load(c.add(i * rsc + S::L), m1);
                }
            }
        }
        if wide {
            for p in 0..kc {
                let bp = b.add(p * rsb);
                let b0 = S::load(bp, m0);
                let b1 = S::load(bp.add(S::L), m1);
                let ap = a.add(p * csa);
                for i in 0..MR {
                    let x = S::splat(ap.add(i * rsa));
                    acc0[i] = S::fma(x, b0, acc0[i]);
                    acc1[i] = S::fma(x, b1, acc1[i]);
                }
            }
        } else {
            for p in 0..kc {
                let b0 = S::load(b.add(p * rsb), m0);
                let ap = a.add(p * csa);
                for i in 0..MR {
                    acc0[i] = S::fma(S::splat(ap.add(i * rsa)), b0, acc0[i]);
                }
            }
        }
        for i in 0..MR {
            S::store(c.add(i * rsc), acc0[i], m0);
            if wide {
                S::store(c.add(i * rsc + S::L), acc1[i], m1);
            }
        }
    }
}

/// One micro-kernel call for a tile of `mr <= MR` rows, dispatched to the matching row count.
///
/// # Safety
/// `1 <= mr <= MR` and, for `mr` rows, as [`micro`]. (Another `mr` panics.)
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<S: Simd, const MR: usize>(
    mr: usize,
    kc: usize,
    nr: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    acc: bool,
    c: *mut f32,
    rsc: usize,
) {
    // SAFETY: the arm taken calls `micro` with exactly `mr` rows, for which the caller
    // vouches.
    unsafe {
        match mr {
            m if m == MR => micro::<S, MR>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            1 => micro::<S, 1>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            2 => micro::<S, 2>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            3 => micro::<S, 3>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            4 => micro::<S, 4>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            5 => micro::<S, 5>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            6 => micro::<S, 6>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            7 => micro::<S, 7>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            8 => micro::<S, 8>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            9 => micro::<S, 9>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            10 => micro::<S, 10>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            11 => micro::<S, 11>(kc, nr, a, rsa, csa, b, rsb, acc, c, rsc),
            _ => unreachable!("row tile above MR"),
        }
    }
}

/// The next row tile out of `rows` left: tiles of equal height (25 rows as 9 + 8 + 8, not
/// 12 + 12 + 1), so no tile runs nearly empty.
#[inline(always)]
fn balanced<const MR: usize>(rows: usize) -> usize {
    rows.div_ceil(rows.div_ceil(MR))
}

/// Rows of A per block when B is packed: the block of A stays in L2 while every panel of B
/// passes over it.
const MC: usize = 96;

thread_local! {
    /// The packed block of B: `NC / NR` panels, each `KC x NR`, contiguous.
    static PACKED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The blocked loops around the micro-kernel, for a register type and a row tile `MR`.
///
/// With a single row tile, B is read in place; with more, each `KC x NC` block of B is first
/// copied into contiguous `KC x NR` panels, which every row tile then reads from L1/L2
/// instead of striding across pages of B.
///
/// # Safety
/// The CPU has `S`'s target feature; `g` meets [`sgemm`]'s contract with `m, n, k >= 1`;
/// `MR <= 12` (what [`tile`] dispatches).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn run<S: Simd, const MR: usize>(g: &Args) {
    let nr_max = 2 * S::L;
    let pack = g.m > MR;
    PACKED.with_borrow_mut(|buf| {
        if pack && buf.len() < KC * NC.next_multiple_of(nr_max) {
            buf.resize(KC * NC.next_multiple_of(nr_max), 0.0);
        }
        let mut jc = 0;
        while jc < g.n {
            let nc = NC.min(g.n - jc);
            let mut pc = 0;
            // (k >= 1 here: `sgemm_at` handled k == 0, so every pass has kc >= 1.)
            loop {
                let kc = KC.min(g.k - pc);
                let acc = g.accumulate || pc > 0;
                // SAFETY: the CPU has S's feature (the contract). Index ranges: jc + jr + nr
                // <= jc + nc <= n, pc + kc <= k, i + mr <= ic + mc <= m, so every element of
                // A, B and C formed here or in `tile` is one of the contract's. Packing reads
                // B's rows pc..pc + kc, columns jc + jr..jc + jr + nr, and writes panel q
                // (q < ceil(nc / nr_max) <= ceil(NC / nr_max)) at q * KC * nr_max + p * nr_max
                // + (0..nr), p < kc <= KC: inside the buffer of KC * NC.next_multiple_of(nr_max)
                // (resized above; ours alone, a thread-local borrowed mutably, so apart from
                // A, B and C). The tiles read those panels back with row stride nr_max: kc rows,
                // nr <= nr_max columns. `tile` gets 1 <= mr <= MR (`balanced`, or g.m <= MR
                // when not packing).
                unsafe {
                    if pack {
                        for (q, jr) in (0..nc).step_by(nr_max).enumerate() {
                            let nr = nr_max.min(nc - jr);
                            let dst = buf.as_mut_ptr().add(q * KC * nr_max);
                            for p in 0..kc {
                                let src = g.b.add((pc + p) * g.rsb + jc + jr);
                                std::ptr::copy_nonoverlapping(src, dst.add(p * nr_max), nr);
                            }
                        }
                        let mut ic = 0;
                        while ic < g.m {
                            let mc = MC.min(g.m - ic);
                            for (q, jr) in (0..nc).step_by(nr_max).enumerate() {
                                let nr = nr_max.min(nc - jr);
                                let b = buf.as_ptr().add(q * KC * nr_max);
                                let mut i = ic;
                                while i < ic + mc {
                                    let mr = balanced::<MR>(ic + mc - i);
                                    let a = g.a.add(i * g.rsa + pc * g.csa);
                                    let c = g.c.add(i * g.rsc + jc + jr);
                                    tile::<S, MR>(
                                        mr, kc, nr, a, g.rsa, g.csa, b, nr_max, acc, c, g.rsc,
                                    );
                                    i += mr;
                                }
                            }
                            ic += mc;
                        }
                    } else {
                        let mut jr = 0;
                        while jr < nc {
                            let nr = nr_max.min(nc - jr);
                            let a = g.a.add(pc * g.csa);
                            let b = g.b.add(pc * g.rsb + jc + jr);
                            let c = g.c.add(jc + jr);
                            tile::<S, MR>(g.m, kc, nr, a, g.rsa, g.csa, b, g.rsb, acc, c, g.rsc);
                            jr += nr;
                        }
                    }
                }
                pc += kc;
                if pc >= g.k {
                    break;
                }
            }
            jc += nc;
        }
    });
}

/// Width of the column panels [`sgemm_panels`] reads at this machine's SIMD level (two
/// registers), or `None` without a SIMD kernel.
pub fn panel_width() -> Option<usize> {
    match level() {
        Level::Avx512 => Some(32),
        Level::Avx2 => Some(16),
        Level::None => None,
    }
}

/// Copy the `k x n` matrix B (element `(p, j)` at `b[p * rsb + j * csb]`) into column panels
/// of width `nr`: panel q holds columns `q*nr..(q+1)*nr` as a contiguous `k x nr` block,
/// zero-padded on the right. `out` is resized to `ceil(n / nr) * k * nr`.
///
/// # Panics
/// If `nr == 0` or that size overflows `usize`.
///
/// # Safety
/// For every `p < k`, `j < n`, `b.add(p * rsb + j * csb)` is valid for reads of an aligned f32
/// (that index computation not overflowing), and B does not overlap `out`'s buffer.
pub unsafe fn pack_panels(
    k: usize,
    n: usize,
    b: *const f32,
    rsb: usize,
    csb: usize,
    nr: usize,
    out: &mut Vec<f32>,
) {
    assert!(nr > 0, "pack_panels: panel width 0");
    let panels = n.div_ceil(nr);
    let len = panels
        .checked_mul(k)
        .and_then(|x| x.checked_mul(nr))
        .expect("pack_panels: size overflows usize");
    out.clear();
    out.resize(len, 0.0);
    for q in 0..panels {
        let cols = nr.min(n - q * nr);
        let dst = &mut out[q * k * nr..(q + 1) * k * nr];
        for j in 0..cols {
            let col = q * nr + j;
            for p in 0..k {
                // SAFETY: p < k and col < n, an element of B by the contract.
                dst[p * nr + j] = unsafe { *b.add(p * rsb + col * csb) };
            }
        }
    }
}

/// `C[m x n] <- A[m x k] B (+ C)` with B already in panels by [`pack_panels`] at
/// [`panel_width`]: the per-step recurrent products, whose B is packed once per chunk.
///
/// # Panics
/// Without a SIMD kernel ([`panel_width`] is `None`).
///
/// # Safety
/// As [`sgemm`] for A and C; `panels` points to the buffer that [`pack_panels`] filled from a
/// `k x n` matrix at width `nr`, where `Some(nr)` is [`panel_width`]`()` (fixed for the
/// process: the SIMD level is detected once), and that buffer is not written during the call.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_panels(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    panels: *const f32,
    accumulate: bool,
    c: *mut f32,
    rsc: usize,
) {
    let level = level();
    if level == Level::None {
        panic!("sgemm_panels without a SIMD kernel: check panel_width() first");
    }
    // The shapes the kernels do not take, as in `sgemm_at`.
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            // SAFETY: C is m x n with m, n >= 1, valid for writes (the contract).
            unsafe { zero_rows(m, n, c, rsc) };
        }
        return;
    }
    let g = Args {
        m,
        n,
        k,
        a,
        rsa,
        csa,
        b: panels,
        rsb: 0,
        accumulate,
        c,
        rsc,
    };
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` found AVX-512F on this CPU; the caller vouches for A, C and the
        // panels, packed at width 32 (`panel_width` at this level), which `run_panels::<Z, _>`
        // reads (2 * Z::L); m, n, k >= 1 (checked above).
        Level::Avx512 => unsafe { run_panels_avx512(&g) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2 and FMA and a width of 16 (2 * Y::L).
        Level::Avx2 => unsafe { run_panels_avx2(&g) },
        _ => unreachable!("no panel width without a kernel: returned above"),
    }
}

/// The loops of [`sgemm_panels`]: for each block of k, each panel, each row tile.
///
/// # Safety
/// The CPU has `S`'s target feature; `g` meets [`sgemm_panels`]' contract with `m, n, k >= 1`
/// and `g.b` holding panels of width `2 * S::L`; `MR <= 12`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn run_panels<S: Simd, const MR: usize>(g: &Args) {
    let nr_max = 2 * S::L;
    let panels = g.n.div_ceil(nr_max);
    let mut pc = 0;
    loop {
        let kc = KC.min(g.k - pc);
        let acc = g.accumulate || pc > 0;
        for q in 0..panels {
            let nr = nr_max.min(g.n - q * nr_max);
            let mut i = 0;
            while i < g.m {
                let mr = balanced::<MR>(g.m - i);
                // SAFETY: the CPU has S's feature (the contract). i + mr <= m, pc + kc <= k,
                // q * nr_max + nr <= n: the elements of A and C are the contract's. Panel q
                // (q < panels) is k rows of nr_max from q * k * nr_max in a buffer of
                // panels * k * nr_max; rows pc..pc + kc, nr <= nr_max columns lie inside it.
                // `tile` gets 1 <= mr <= MR (`balanced`).
                unsafe {
                    let a = g.a.add(i * g.rsa + pc * g.csa);
                    let b = g.b.add(q * g.k * nr_max + pc * nr_max);
                    let c = g.c.add(i * g.rsc + q * nr_max);
                    tile::<S, MR>(mr, kc, nr, a, g.rsa, g.csa, b, nr_max, acc, c, g.rsc);
                }
                i += mr;
            }
        }
        pc += kc;
        if pc >= g.k {
            break;
        }
    }
}

/// [`run_panels`] compiled for AVX-512.
///
/// # Safety
/// The CPU has AVX-512F; as [`run_panels`] for [`Z`] (panels of width 32).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn run_panels_avx512(g: &Args) {
    // SAFETY: forwarded contract; this function is compiled with AVX-512F.
    unsafe { run_panels::<Z, 12>(g) }
}

/// [`run_panels`] compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU has AVX2 and FMA; as [`run_panels`] for [`Y`] (panels of width 16).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_panels_avx2(g: &Args) {
    // SAFETY: forwarded contract; this function is compiled with AVX2 and FMA.
    unsafe { run_panels::<Y, 6>(g) }
}

/// [`run`] compiled for AVX-512.
///
/// # Safety
/// The CPU has AVX-512F; as [`run`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn run_avx512(g: &Args) {
    // 12 rows x 2 vectors: 24 of the 32 registers hold C.
    // SAFETY: forwarded contract; this function is compiled with AVX-512F.
    unsafe { run::<Z, 12>(g) }
}

/// [`run`] compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU has AVX2 and FMA; as [`run`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(g: &Args) {
    // 6 rows x 2 vectors: 12 of the 16 registers hold C.
    // SAFETY: forwarded contract; this function is compiled with AVX2 and FMA.
    unsafe { run::<Y, 6>(g) }
}
