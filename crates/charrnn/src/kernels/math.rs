//! Element-wise activation kernels over slices: `exp`, `tanh`, `sigmoid`.
//!
//! For f32 they are branch-free polynomial approximations (a few ulp from the correctly
//! rounded result) that the compiler vectorizes; f64 keeps the C library's functions, so
//! double-precision runs match numpy.
//!
//! - `exp`: `x = k ln2 + r`, `|r| <= ln2 / 2`; `e^r` by its Taylor series to degree 7;
//!   `2^k` built in the exponent bits. Inputs are clamped to `[-87.3, 88]`.
//! - `tanh`: `x (1 + x^2 P(x^2))` (the odd Taylor series to degree 17) for `|x| < 0.55`,
//!   `1 - 2 / (e^{2|x|} + 1)` above, with the sign of x.
//!
//! Polynomials go by Estrin's scheme with fused multiply-adds (where the CPU has them): their
//! dependency chains are what a batch-1 step waits on.
//! - `sigmoid`: `1 / (1 + e^{-x})`.

use super::fma;

/// `e^x` for f32, vectorizable.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits, read back
    // without a float-to-int conversion (which would not vectorize).
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.0);
    let t = fma(x, LOG2E, MAGIC);
    let k = t - MAGIC;
    let r = fma(-k, LN2_LO, fma(-k, LN2_HI, x));
    // The Taylor polynomial to degree 7 by Estrin's scheme: pairs, then pairs of pairs, so
    // the chain is three multiply-adds deep instead of seven.
    let r2 = r * r;
    let a0 = fma(r, 1.0, 1.0);
    let a1 = fma(r, 1.0 / 6.0, 0.5);
    let a2 = fma(r, 1.0 / 120.0, 1.0 / 24.0);
    let a3 = fma(r, 1.0 / 5040.0, 1.0 / 720.0);
    let b0 = fma(r2, a1, a0);
    let b1 = fma(r2, a3, a2);
    let p = fma(r2 * r2, b1, b0);
    let scale = f32::from_bits(t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127) << 23);
    p * scale
}

/// `tanh(x)` for f32, vectorizable.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    // Odd Taylor series: tanh x = x - x^3/3 + 2x^5/15 - 17x^7/315 + ..., its polynomial in
    // z = x^2 by Estrin's scheme (as in exp).
    let z = a * a;
    let c = [
        -1.0 / 3.0,
        2.0 / 15.0,
        -17.0 / 315.0,
        62.0 / 2_835.0,
        -1_382.0 / 155_925.0,
        21_844.0 / 6_081_075.0,
        -929_569.0 / 638_512_875.0,
        6_404_582.0 / 10_854_718_875.0f32,
    ];
    let z2 = z * z;
    let z4 = z2 * z2;
    let p01 = fma(z, c[1], c[0]);
    let p23 = fma(z, c[3], c[2]);
    let p45 = fma(z, c[5], c[4]);
    let p67 = fma(z, c[7], c[6]);
    let p03 = fma(z2, p23, p01);
    let p47 = fma(z2, p67, p45);
    let p = fma(z4, p47, p03);
    let small = fma(a * z, p, a);
    let e = exp_f32((2.0 * a).min(40.0));
    let large = 1.0 - 2.0 / (e + 1.0);
    let t = if a < 0.55 { small } else { large };
    t.copysign(x)
}

/// `1 / (1 + e^{-x})` for f32, vectorizable.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_rel(f: fn(f32) -> f32, g: fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
        let n = 200_001;
        let mut worst = 0.0f64;
        for i in 0..n {
            let x = (lo + (hi - lo) * i as f64 / (n - 1) as f64) as f32;
            let want = g(x as f64);
            let got = f(x) as f64;
            let err = (got - want).abs() / want.abs().max(1e-30);
            worst = worst.max(err);
        }
        worst
    }

    #[test]
    fn exp_is_within_a_few_ulp() {
        assert!(max_rel(exp_f32, f64::exp, -80.0, 80.0) < 4e-7);
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1000.0) < 1e-37 && exp_f32(-1000.0) >= 0.0);
        assert!(exp_f32(1000.0).is_finite());
    }

    #[test]
    fn tanh_is_within_a_few_ulp() {
        assert!(max_rel(tanh_f32, f64::tanh, -12.0, 12.0) < 4e-7);
        assert!(max_rel(tanh_f32, f64::tanh, -0.01, 0.01) < 2e-7);
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f32(30.0), 1.0);
        assert_eq!(tanh_f32(-30.0), -1.0);
    }

    #[test]
    fn sigmoid_is_close() {
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        assert!(max_rel(sigmoid_f32, s, -30.0, 30.0) < 4e-7);
    }
}
