//! Gradient clipping, optimizers and learning-rate schedules over the flat parameter buffer.
//!
//! Every optimizer is one loop over the buffer, with its state mirroring the parameters.
//! - Adagrad, the notebook's: `m += g^2; w -= lr * g / sqrt(m + 1e-8)`.
//! - Adam, as PyTorch: `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//!   w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
//! - RMSprop, as PyTorch: `v = a v + (1-a) g^2; w -= lr * g / (sqrt(v) + eps)`.
//! - SGD with momentum, as PyTorch: `u = mu u + g` (`u = g` at the first step); `w -= lr * u`.

use crate::error::{Error, Result};
use crate::kernels;
use crate::kernels::Real;
use crate::model::Layout;

/// How gradients are clipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClipMode {
    /// Every element to `[-c, c]` (the notebook).
    #[default]
    Value,
    /// Scale all gradients so their global L2 norm is at most `c`.
    Norm,
}

/// How gradients are clipped before the update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clip {
    /// The bound; `None` turns clipping off.
    pub value: Option<f64>,
    pub mode: ClipMode,
    /// In value mode, clip the embedding's gradient too (the notebook does not).
    pub embedding: bool,
}

impl Default for Clip {
    fn default() -> Self {
        Clip {
            value: Some(1.0),
            mode: ClipMode::Value,
            embedding: false,
        }
    }
}

/// What clipping saw and did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClipStats {
    /// Global L2 norm of the gradient before clipping.
    pub norm: f64,
    /// Share of gradient elements changed by clipping (in norm mode: all or none).
    pub fraction: f64,
}

impl Clip {
    /// Clip `g` in place.
    pub fn apply<T: Real>(&self, layout: &Layout, g: &mut [T]) -> ClipStats {
        let norm = kernels::sum_squares(g).sqrt();
        let Some(c) = self.value else {
            return ClipStats {
                norm,
                fraction: 0.0,
            };
        };
        let fraction = match self.mode {
            ClipMode::Value => {
                let ct = T::of(c);
                let mut n = 0;
                for t in &layout.tensors {
                    if t.range == layout.embed && !self.embedding {
                        continue;
                    }
                    n += kernels::clip(&mut g[t.range.clone()], ct);
                }
                n as f64 / g.len().max(1) as f64
            }
            ClipMode::Norm => {
                if norm > c {
                    let s = T::of(c / (norm + 1e-6));
                    g.iter_mut().for_each(|x| *x *= s);
                    1.0
                } else {
                    0.0
                }
            }
        };
        ClipStats { norm, fraction }
    }
}

/// The optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimKind {
    #[default]
    Adagrad,
    Adam,
    Rmsprop,
    Sgd,
}

impl OptimKind {
    /// Parse `adagrad`, `adam`, `rmsprop` or `sgd`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "adagrad" => Ok(OptimKind::Adagrad),
            "adam" => Ok(OptimKind::Adam),
            "rmsprop" => Ok(OptimKind::Rmsprop),
            "sgd" => Ok(OptimKind::Sgd),
            _ => Err(Error::config(format!(
                "unknown optimizer {s:?}: use adagrad, adam, rmsprop or sgd"
            ))),
        }
    }

    /// The name used on the command line and in metadata.
    pub fn name(self) -> &'static str {
        match self {
            OptimKind::Adagrad => "adagrad",
            OptimKind::Adam => "adam",
            OptimKind::Rmsprop => "rmsprop",
            OptimKind::Sgd => "sgd",
        }
    }
}

/// Optimizer settings; the defaults are PyTorch's (Adagrad's epsilon is the notebook's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimConfig {
    pub kind: OptimKind,
    /// Adam's beta1.
    pub beta1: f64,
    /// Adam's beta2.
    pub beta2: f64,
    /// RMSprop's smoothing constant.
    pub alpha: f64,
    /// SGD's momentum.
    pub momentum: f64,
    /// Added to the denominator (Adagrad: inside the square root, as the notebook).
    pub eps: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            kind: OptimKind::Adagrad,
            beta1: 0.9,
            beta2: 0.999,
            alpha: 0.99,
            momentum: 0.0,
            eps: 1e-8,
        }
    }
}

impl OptimConfig {
    /// Check the settings are in range.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("`beta1`", self.beta1),
            ("`beta2`", self.beta2),
            ("`alpha`", self.alpha),
            ("`momentum`", self.momentum),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(Error::config(format!("{name} must be in [0, 1), got {v}")));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::config(format!(
                "`eps` must be positive, got {}",
                self.eps
            )));
        }
        Ok(())
    }
}

/// An optimizer and its state.
#[derive(Clone, Debug)]
pub struct Optimizer<T> {
    pub cfg: OptimConfig,
    /// Adagrad: sum of squares; Adam: first moment; RMSprop: mean square; SGD: momentum.
    pub m: Vec<T>,
    /// Adam: second moment (empty otherwise).
    pub v: Vec<T>,
    /// Updates done.
    pub t: u64,
}

impl<T: Real> Optimizer<T> {
    /// Zeroed state for `n` parameters.
    pub fn new(cfg: OptimConfig, n: usize) -> Self {
        let v = if cfg.kind == OptimKind::Adam {
            vec![T::zero(); n]
        } else {
            Vec::new()
        };
        Optimizer {
            cfg,
            m: vec![T::zero(); n],
            v,
            t: 0,
        }
    }

    /// One update of `w` by the gradient `g` with learning rate `lr`.
    pub fn step(&mut self, w: &mut [T], g: &[T], lr: f64) {
        self.t += 1;
        let c = self.cfg;
        let eps = T::of(c.eps);
        match c.kind {
            OptimKind::Adagrad => {
                let neg_lr = T::of(-lr);
                for ((w, &g), m) in w.iter_mut().zip(g).zip(self.m.iter_mut()) {
                    *m += g * g;
                    *w += neg_lr * g / (*m + eps).sqrt();
                }
            }
            OptimKind::Adam => {
                let t = self.t as i32;
                let b1 = T::of(c.beta1);
                let one_b1 = T::of(1.0 - c.beta1);
                let b2 = T::of(c.beta2);
                let one_b2 = T::of(1.0 - c.beta2);
                let step_size = T::of(lr / (1.0 - c.beta1.powi(t)));
                let bc2_sqrt = T::of((1.0 - c.beta2.powi(t)).sqrt());
                for (((w, &g), m), v) in w
                    .iter_mut()
                    .zip(g)
                    .zip(self.m.iter_mut())
                    .zip(self.v.iter_mut())
                {
                    *m = *m * b1 + g * one_b1;
                    *v = *v * b2 + g * g * one_b2;
                    let denom = v.sqrt() / bc2_sqrt + eps;
                    *w -= step_size * (*m / denom);
                }
            }
            OptimKind::Rmsprop => {
                let a = T::of(c.alpha);
                let one_a = T::of(1.0 - c.alpha);
                let lr = T::of(lr);
                for ((w, &g), m) in w.iter_mut().zip(g).zip(self.m.iter_mut()) {
                    *m = *m * a + g * g * one_a;
                    *w -= lr * (g / (m.sqrt() + eps));
                }
            }
            OptimKind::Sgd => {
                let lr = T::of(lr);
                if c.momentum == 0.0 {
                    for (w, &g) in w.iter_mut().zip(g) {
                        *w -= lr * g;
                    }
                } else {
                    let mu = T::of(c.momentum);
                    let first = self.t == 1;
                    for ((w, &g), u) in w.iter_mut().zip(g).zip(self.m.iter_mut()) {
                        *u = if first { g } else { *u * mu + g };
                        *w -= lr * *u;
                    }
                }
            }
        }
    }
}

/// The learning rate over training.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Multiply by `factor` every `every` steps.
    Step { factor: f64, every: u64 },
    /// From the base rate down to `min` along `shape`, ending with the run (`end`).
    Anneal {
        shape: Shape,
        min: f64,
        end: Horizon,
    },
}

/// The curve of an annealed learning rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Half a cosine: slow at first and at the end.
    Cosine,
    /// A straight line.
    Linear,
}

/// Where a run ends, for a schedule that ends with it: after `steps` steps or `seconds` of
/// training (0: no such end), whichever comes first.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Horizon {
    pub steps: u64,
    pub seconds: f64,
}

impl Horizon {
    /// How far a run is to its end after `step` steps and `secs` seconds, in `[0, 1]`: the
    /// further of the two, so the schedule ends when the first stopping rule does.
    pub fn progress(&self, step: u64, secs: f64) -> f64 {
        let by_steps = if self.steps > 0 {
            step as f64 / self.steps as f64
        } else {
            0.0
        };
        let by_time = if self.seconds > 0.0 {
            secs / self.seconds
        } else {
            0.0
        };
        by_steps.max(by_time).clamp(0.0, 1.0)
    }

    /// Whether any end is set.
    pub fn is_set(&self) -> bool {
        self.steps > 0 || self.seconds > 0.0
    }
}

impl Schedule {
    /// The rate at step `step` (from 0), `secs` seconds into the run, for base rate `lr`.
    pub fn lr(&self, lr: f64, step: u64, secs: f64) -> f64 {
        match *self {
            Schedule::Constant => lr,
            Schedule::Step { factor, every } => {
                lr * factor.powi((step / every.max(1)).min(i32::MAX as u64) as i32)
            }
            Schedule::Anneal { shape, min, end } => {
                let x = end.progress(step, secs);
                let f = match shape {
                    Shape::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * x).cos()),
                    Shape::Linear => 1.0 - x,
                };
                min + (lr - min) * f
            }
        }
    }

    /// Check the settings are in range.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { factor, every } => {
                if !(factor > 0.0 && factor <= 1.0) {
                    return Err(Error::config(format!(
                        "`lr_decay` must be in (0, 1], got {factor}"
                    )));
                }
                if every == 0 {
                    return Err(Error::config("`lr_decay_every` must be at least 1"));
                }
                Ok(())
            }
            Schedule::Anneal { min, .. } => {
                if !(min.is_finite() && min >= 0.0) {
                    return Err(Error::config(format!(
                        "`lr_min` must be 0 or positive, got {min}"
                    )));
                }
                Ok(())
            }
        }
    }
}

/// The warmup factor at step `step` of `warmup` steps: rising linearly from `1/warmup` to 1
/// (1 throughout without warmup).
pub fn warmup_factor(step: u64, warmup: u64) -> f64 {
    if step >= warmup {
        1.0
    } else {
        (step + 1) as f64 / warmup as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_first_step_moves_by_lr_times_sign() {
        let mut o = Optimizer::<f64>::new(
            OptimConfig {
                kind: OptimKind::Adam,
                ..Default::default()
            },
            2,
        );
        let mut w = [1.0, -1.0];
        o.step(&mut w, &[0.5, -2.0], 0.1);
        assert!(
            (w[0] - 0.9).abs() < 1e-6 && (w[1] + 0.9).abs() < 1e-6,
            "{w:?}"
        );
    }

    #[test]
    fn sgd_momentum_accumulates() {
        let mut o = Optimizer::<f64>::new(
            OptimConfig {
                kind: OptimKind::Sgd,
                momentum: 0.5,
                ..Default::default()
            },
            1,
        );
        let mut w = [0.0];
        o.step(&mut w, &[1.0], 1.0);
        o.step(&mut w, &[1.0], 1.0);
        assert_eq!(w[0], -1.0 - 1.5);
    }

    #[test]
    fn schedules() {
        let s = Schedule::Step {
            factor: 0.5,
            every: 10,
        };
        assert_eq!(s.lr(1.0, 9, 0.0), 1.0);
        assert_eq!(s.lr(1.0, 10, 0.0), 0.5);
        assert_eq!(s.lr(1.0, 25, 0.0), 0.25);
        let anneal = |shape, steps, seconds| Schedule::Anneal {
            shape,
            min: 0.1,
            end: Horizon { steps, seconds },
        };
        // Ending with the steps: start, midpoint, end.
        let c = anneal(Shape::Cosine, 100, 0.0);
        assert_eq!(c.lr(1.0, 0, 0.0), 1.0);
        assert!((c.lr(1.0, 50, 1e9) - 0.55).abs() < 1e-12);
        assert!((c.lr(1.0, 100, 0.0) - 0.1).abs() < 1e-12);
        assert!((c.lr(1.0, 500, 0.0) - 0.1).abs() < 1e-12);
        let l = anneal(Shape::Linear, 100, 0.0);
        assert!((l.lr(1.0, 25, 0.0) - 0.775).abs() < 1e-12);
        // Ending with the time: by the clock, whatever the steps.
        let t = anneal(Shape::Cosine, 0, 300.0);
        assert_eq!(t.lr(1.0, 10_000, 0.0), 1.0);
        assert!((t.lr(1.0, 7, 150.0) - 0.55).abs() < 1e-12);
        assert!((t.lr(1.0, 7, 300.0) - 0.1).abs() < 1e-12);
        // Both: whichever ends first.
        let b = anneal(Shape::Linear, 100, 300.0);
        assert!((b.lr(1.0, 50, 30.0) - 0.55).abs() < 1e-12);
        assert!((b.lr(1.0, 10, 150.0) - 0.55).abs() < 1e-12);
        assert_eq!(warmup_factor(0, 4), 0.25);
        assert_eq!(warmup_factor(3, 4), 1.0);
        assert_eq!(warmup_factor(9, 0), 1.0);
    }
}
