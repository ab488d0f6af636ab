//! The floating-point types a model can be trained in: `f32` (fast, the default) and `f64`
//! (the notebook's arithmetic, used for reference parity and gradient checks).

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// A scalar type the kernels run on.
///
/// The `unsafe` methods are the kernels' raw entry points: the safe functions of
/// [`crate::kernels`] call them only under the contracts in their `# Safety` sections (checked
/// through the [`super::MatRef`]/[`super::MatMut`] views and [`super::Packed`]), and an
/// implementation must be sound for every call that meets them.
pub trait Real:
    num_traits::Float
    + num_traits::FromPrimitive
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
{
    /// The safetensors dtype this type is stored as.
    const DTYPE: safetensors::Dtype;
    /// Bytes per element.
    const BYTES: usize;
    /// Name used on the command line and in metadata.
    const NAME: &'static str;
    /// Kernels may trade the last bit for speed (multiply by a reciprocal instead of
    /// dividing): true for f32; f64 keeps the notebook's exact operations.
    const FAST: bool;

    /// `C <- alpha * A * B + beta * C` for an `m x k` A and a `k x n` B given by row and column
    /// strides: element `(i, p)` of A is `*a.offset(i * rsa + p * csa)`, and likewise for B and
    /// C. With `beta == 0`, C is only written.
    ///
    /// # Safety
    /// For every `i < m`, `p < k`, `j < n`: A's element `(i, p)` and B's `(p, j)` are valid for
    /// reads of an aligned `Self`, C's `(i, j)` for reads and writes of one, and computing those
    /// offsets does not overflow `isize`. C's elements are distinct (no two `(i, j)` at the same
    /// place) and overlap neither A nor B (`matrixmultiply`'s contract). [`super::gemm`] gets
    /// all this from its views.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );

    /// `C <- A B (+ C)` through a kernel for unit-column-stride B and C, if this type has one
    /// on this CPU; returns `false` when it did nothing.
    ///
    /// # Safety
    /// As [`super::sgemm::sgemm`] (with `Self` for f32): every element at in-range indices
    /// valid and aligned, C's elements distinct and apart from A and B.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_unit(
        _m: usize,
        _n: usize,
        _k: usize,
        _a: *const Self,
        _rsa: usize,
        _csa: usize,
        _b: *const Self,
        _rsb: usize,
        _accumulate: bool,
        _c: *mut Self,
        _rsc: usize,
    ) -> bool {
        false
    }

    /// Width of the column panels of [`super::Packed`] matrices, or `None` where
    /// this type has no packed kernel (then they stay plain row-major).
    fn panel_width() -> Option<usize> {
        None
    }

    /// Pack a `k x n` strided matrix into panels of `nr` columns (the layout
    /// [`Real::gemm_panels`] reads), replacing the contents of `out`.
    ///
    /// # Safety
    /// As [`super::sgemm::pack_panels`]: every element `(p, j)` of B at in-range indices is
    /// valid for reads of an aligned `Self`, and B is not in `out`'s buffer. The kernels call it
    /// only with an `nr` that `panel_width` returned as `Some`.
    unsafe fn pack_panels(
        _k: usize,
        _n: usize,
        _b: *const Self,
        _rsb: usize,
        _csb: usize,
        _nr: usize,
        _out: &mut Vec<Self>,
    ) {
        unreachable!("no packed kernel for this type")
    }

    /// `C <- A P (+ C)` for panels P.
    ///
    /// # Safety
    /// As [`super::sgemm::sgemm_panels`]: A and C as in [`Real::gemm_unit`]; `panels` points to
    /// the buffer that [`Real::pack_panels`] filled from a `k x n` matrix at a width `nr` that
    /// `panel_width` returned as `Some(nr)`, unchanged since.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_panels(
        _m: usize,
        _n: usize,
        _k: usize,
        _a: *const Self,
        _rsa: usize,
        _csa: usize,
        _panels: *const Self,
        _accumulate: bool,
        _c: *mut Self,
        _rsc: usize,
    ) {
        unreachable!("no packed kernel for this type")
    }

    /// `e^x` as the kernels compute it: exact to a few ulp (f32: a vectorizable polynomial,
    /// f64: the C library's).
    fn exp_k(self) -> Self;
    /// `tanh(x)` as the kernels compute it.
    fn tanh_k(self) -> Self;
    /// `1 / (1 + e^{-x})` as the kernels compute it.
    fn sigmoid_k(self) -> Self;

    /// The sum of 16 values by halving (`a[i] + a[i + 8]`, then 4, 2, 1); f32 on AVX-512 adds
    /// them inside one register, the same tree.
    #[inline(always)]
    fn sum16(a: &[Self; 16]) -> Self {
        super::fold_halving(*a, |x, y| x + y)
    }

    /// The largest of 16 values (of two equal, either); see [`Real::sum16`].
    #[inline(always)]
    fn max16(a: &[Self; 16]) -> Self {
        super::fold_halving(*a, |x, y| if x > y { x } else { y })
    }

    /// The first `l` whose running sum `a[0] + ... + a[l]` is above `r`, if any (f32 on
    /// AVX-512: a prefix sum in one register, one compare, no branch per lane).
    #[inline(always)]
    fn first_running_sum_above16(a: &[Self; 16], r: Self) -> Option<usize> {
        let mut acc = Self::zero();
        a.iter().position(|&v| {
            acc += v;
            acc > r
        })
    }

    /// Little-endian bytes of one value.
    fn write_le(self, out: &mut Vec<u8>);
    /// Convert from f64 (rounding for f32).
    fn of(x: f64) -> Self {
        <Self as num_traits::FromPrimitive>::from_f64(x).expect("finite float conversion")
    }
    /// Widen to f64.
    fn f64(self) -> f64 {
        num_traits::ToPrimitive::to_f64(&self).expect("float to f64")
    }
}

impl Real for f32 {
    const DTYPE: safetensors::Dtype = safetensors::Dtype::F32;
    const BYTES: usize = 4;
    const NAME: &'static str = "f32";
    const FAST: bool = true;

    unsafe fn gemm_unit(
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
        // SAFETY: this method's contract is `sgemm`'s.
        unsafe { super::sgemm::sgemm(m, n, k, a, rsa, csa, b, rsb, accumulate, c, rsc) }
    }

    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: this method's contract includes `matrixmultiply::sgemm`'s (elements valid,
        // C's distinct).
        unsafe {
            matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }

    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn panel_width() -> Option<usize> {
        super::sgemm::panel_width()
    }

    unsafe fn pack_panels(
        k: usize,
        n: usize,
        b: *const f32,
        rsb: usize,
        csb: usize,
        nr: usize,
        out: &mut Vec<f32>,
    ) {
        // SAFETY: this method's contract is `pack_panels`' (which checks `nr > 0` itself).
        unsafe { super::sgemm::pack_panels(k, n, b, rsb, csb, nr, out) }
    }

    unsafe fn gemm_panels(
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
        // SAFETY: this method's contract is `sgemm_panels`': `panel_width` here is
        // `sgemm::panel_width`, fixed for the process, so the panels' width is the one
        // `sgemm_panels` reads.
        unsafe { super::sgemm::sgemm_panels(m, n, k, a, rsa, csa, panels, accumulate, c, rsc) }
    }

    #[inline(always)]
    fn exp_k(self) -> f32 {
        super::math::exp_f32(self)
    }

    #[inline(always)]
    fn tanh_k(self) -> f32 {
        super::math::tanh_f32(self)
    }

    #[inline(always)]
    fn sigmoid_k(self) -> f32 {
        super::math::sigmoid_f32(self)
    }

    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    #[inline(always)]
    fn sum16(a: &[f32; 16]) -> f32 {
        use std::arch::x86_64::{_mm512_loadu_ps, _mm512_reduce_add_ps};
        // SAFETY: the target has AVX-512F (checked at compile time) and `a` is 16 f32s.
        unsafe { _mm512_reduce_add_ps(_mm512_loadu_ps(a.as_ptr())) }
    }

    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    #[inline(always)]
    fn first_running_sum_above16(a: &[f32; 16], r: f32) -> Option<usize> {
        use std::arch::x86_64::*;
        // SAFETY: the target has AVX-512F (checked at compile time) and `a` is 16 f32s.
        unsafe {
            let mut x = _mm512_loadu_ps(a.as_ptr());
            // Hillis-Steele scan: add the vector shifted up by 1, 2, 4, 8 lanes (zeros in).
            let up1 = _mm512_set_epi32(14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0);
            let up2 = _mm512_set_epi32(13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0);
            let up4 = _mm512_set_epi32(11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0);
            let up8 = _mm512_set_epi32(7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            x = _mm512_add_ps(x, _mm512_maskz_permutexvar_ps(0xfffe, up1, x));
            x = _mm512_add_ps(x, _mm512_maskz_permutexvar_ps(0xfffc, up2, x));
            x = _mm512_add_ps(x, _mm512_maskz_permutexvar_ps(0xfff0, up4, x));
            x = _mm512_add_ps(x, _mm512_maskz_permutexvar_ps(0xff00, up8, x));
            let above = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_set1_ps(r));
            (above != 0).then(|| above.trailing_zeros() as usize)
        }
    }

    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    #[inline(always)]
    fn max16(a: &[f32; 16]) -> f32 {
        use std::arch::x86_64::{_mm512_loadu_ps, _mm512_reduce_max_ps};
        // SAFETY: the target has AVX-512F (checked at compile time) and `a` is 16 f32s.
        unsafe { _mm512_reduce_max_ps(_mm512_loadu_ps(a.as_ptr())) }
    }
}

impl Real for f64 {
    const DTYPE: safetensors::Dtype = safetensors::Dtype::F64;
    const BYTES: usize = 8;
    const NAME: &'static str = "f64";
    const FAST: bool = false;

    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: this method's contract includes `matrixmultiply::dgemm`'s (elements valid,
        // C's distinct).
        unsafe {
            matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }

    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    #[inline(always)]
    fn exp_k(self) -> f64 {
        self.exp()
    }

    #[inline(always)]
    fn tanh_k(self) -> f64 {
        self.tanh()
    }

    #[inline(always)]
    fn sigmoid_k(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
}
