//! Statistics over the channels: the state units that correlate most with each feature of the
//! text, and how often each gate sits near its bounds.
//!
//! Correlation is Pearson's `r` over the N characters, in f64, from centred sums (two
//! passes): `r = Σ(a - ā)(f - f̄) / sqrt(Σ(a - ā)² Σ(f - f̄)²)`.

use serde::Serialize;

use super::{Channel, ChannelKind, Feature};
use crate::model::Squash;

/// A unit and its correlation with a feature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Neuron {
    pub layer: usize,
    /// The state it is a unit of (`h`, `c`).
    pub channel: &'static str,
    pub unit: usize,
    /// Pearson's correlation of its values with the feature's, in [-1, 1].
    pub r: f64,
}

/// The units that track one feature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Found {
    pub feature: &'static str,
    /// The feature varies over the text (otherwise nothing can correlate with it).
    pub varies: bool,
    /// The state units with the largest `|r|`, largest first; one entry per (layer, unit),
    /// under whichever of its states correlates more.
    pub neurons: Vec<Neuron>,
}

/// A unit whose values vary less than this (in variance) is taken as constant.
const MIN_VAR: f64 = 1e-12;

/// For each feature, the `k` state units (over every layer and state channel) whose values
/// correlate most with it, by `|r|`.
pub fn found_neurons(channels: &[Channel], features: &[Feature], k: usize) -> Vec<Found> {
    let n = features.first().map_or(0, |f| f.values.len());
    // Centred features and their sums of squares.
    let centred: Vec<Vec<f64>> = features
        .iter()
        .map(|f| {
            let mean = f.values.iter().map(|&x| x as f64).sum::<f64>() / n.max(1) as f64;
            f.values.iter().map(|&x| x as f64 - mean).collect()
        })
        .collect();
    let ss: Vec<f64> = centred
        .iter()
        .map(|c| c.iter().map(|x| x * x).sum())
        .collect();
    let nf = features.len();
    // Per feature: every (layer, channel, unit, r).
    let mut all: Vec<Vec<Neuron>> = vec![Vec::new(); nf];
    for ch in channels.iter().filter(|c| c.kind == ChannelKind::State) {
        let h = ch.units;
        let mut mean = vec![0.0f64; h];
        for row in ch.values.chunks_exact(h) {
            for (m, &a) in mean.iter_mut().zip(row) {
                *m += a as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let mut var = vec![0.0f64; h];
        // [H, F] Σ (a - ā)(f - f̄)
        let mut cov = vec![0.0f64; h * nf];
        for (t, row) in ch.values.chunks_exact(h).enumerate() {
            for u in 0..h {
                let d = row[u] as f64 - mean[u];
                var[u] += d * d;
                for (j, c) in cov[u * nf..(u + 1) * nf].iter_mut().enumerate() {
                    *c += d * centred[j][t];
                }
            }
        }
        for u in 0..h {
            if var[u] < MIN_VAR * n as f64 {
                continue;
            }
            for j in 0..nf {
                if ss[j] < MIN_VAR * n as f64 {
                    continue;
                }
                let r = (cov[u * nf + j] / (var[u] * ss[j]).sqrt()).clamp(-1.0, 1.0);
                all[j].push(Neuron {
                    layer: ch.layer,
                    channel: ch.name,
                    unit: u,
                    r,
                });
            }
        }
    }
    features
        .iter()
        .zip(all)
        .zip(&ss)
        .map(|((f, mut list), &ss)| {
            // Largest |r| first; ties in channel order, then unit order (a stable sort).
            list.sort_by(|a, b| b.r.abs().total_cmp(&a.r.abs()));
            let mut neurons: Vec<Neuron> = Vec::with_capacity(k);
            for x in list {
                if neurons.len() == k {
                    break;
                }
                if !neurons
                    .iter()
                    .any(|m| m.layer == x.layer && m.unit == x.unit)
                {
                    neurons.push(x);
                }
            }
            Found {
                feature: f.name,
                varies: ss >= MIN_VAR * n as f64,
                neurons,
            }
        })
        .collect()
}

/// How a gate of one layer sits in its range over the text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Saturation {
    pub layer: usize,
    pub gate: &'static str,
    pub squash: Squash,
    /// Values below `low` count as near the lower bound, above `high` as near the upper one:
    /// a tenth of the range from each (0.1 and 0.9 for a sigmoid gate, -0.8 and 0.8 for a
    /// tanh candidate).
    pub low: f64,
    pub high: f64,
    /// The share of all values (every character and unit) near the lower bound...
    pub low_share: f64,
    /// ... and near the upper bound.
    pub high_share: f64,
    /// The share of values in each of [`HIST_BINS`] equal bins over the range.
    pub hist: Vec<f64>,
    /// Per unit: the share of characters at which it is near the lower bound and the upper.
    pub units: Vec<(f32, f32)>,
}

/// Bins of [`Saturation::hist`].
pub const HIST_BINS: usize = 20;

/// The [`Saturation`] of every gate channel with a bounded range (a linear candidate has none).
pub fn saturation(channels: &[Channel]) -> Vec<Saturation> {
    let mut out = Vec::new();
    for ch in channels.iter().filter(|c| c.kind == ChannelKind::Gate) {
        let Some(squash) = ch.squash else { continue };
        let Some((lo, hi)) = squash.range() else {
            continue;
        };
        let (low, high) = (lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo));
        let h = ch.units;
        let n = ch.values.len() / h.max(1);
        let mut hist = [0u64; HIST_BINS];
        let mut units = vec![(0u64, 0u64); h];
        for row in ch.values.chunks_exact(h) {
            for (u, &x) in units.iter_mut().zip(row) {
                let x = x as f64;
                u.0 += (x < low) as u64;
                u.1 += (x > high) as u64;
                let b = ((x - lo) / (hi - lo) * HIST_BINS as f64) as isize;
                hist[b.clamp(0, HIST_BINS as isize - 1) as usize] += 1;
            }
        }
        let all = (n * h).max(1) as f64;
        let share = |k: u64, of: f64| k as f64 / of;
        out.push(Saturation {
            layer: ch.layer,
            gate: ch.name,
            squash,
            low,
            high,
            low_share: share(units.iter().map(|u| u.0).sum(), all),
            high_share: share(units.iter().map(|u| u.1).sum(), all),
            hist: hist.iter().map(|&k| share(k, all)).collect(),
            units: units
                .iter()
                .map(|&(a, b)| {
                    (
                        share(a, n.max(1) as f64) as f32,
                        share(b, n.max(1) as f64) as f32,
                    )
                })
                .collect(),
        });
    }
    out
}
