//! Test helpers: Pearson's chi-square and its 0.999 quantile (the sampling tests), and the
//! numerical gradient check ([`gradcheck`]). Each test file uses part of it, hence the allowed
//! dead code.

#![allow(dead_code)]

pub mod gradcheck;

/// Pearson's chi-square of `counts` against probabilities `p`, pooling categories expected
/// fewer than 5 times into one; returns (statistic, degrees of freedom).
pub fn chi_square(counts: &[u64], p: &[f64]) -> (f64, usize) {
    let total: u64 = counts.iter().sum();
    let (mut stat, mut cells) = (0.0, 0);
    let (mut pooled_obs, mut pooled_exp) = (0.0, 0.0);
    for (&o, &q) in counts.iter().zip(p) {
        let e = q * total as f64;
        if e < 5.0 {
            pooled_obs += o as f64;
            pooled_exp += e;
        } else {
            stat += (o as f64 - e).powi(2) / e;
            cells += 1;
        }
    }
    if pooled_exp > 0.0 {
        stat += (pooled_obs - pooled_exp).powi(2) / pooled_exp.max(1e-300);
        cells += 1;
    }
    (stat, cells - 1)
}

/// The 0.999 quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty; within 1%
/// of the tables for df >= 3).
pub fn chi_square_999(df: usize) -> f64 {
    let k = df as f64;
    let z = 3.090; // the standard normal's 0.999 quantile
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}
