//! The one numerical gradient check, in f64, of the whole model (embedding, every recurrent
//! layer, the output layer): `Model::backward` against central differences of the loss, every
//! parameter element.
//!
//! The numerical derivative along one weight is the fourth-order central difference
//! `(8 (L(w+e) - L(w-e)) - (L(w+2e) - L(w-2e))) / 12e`, that is the Richardson extrapolation
//! `(4 D(e) - D(2e)) / 3` of two-point differences `D(h) = (L(w+h) - L(w-h)) / 2h`. Its
//! truncation error is O(e^4), so e can be large enough (~1e-3) that rounding (about
//! `1e-16 * L / e`) stays near 1e-12, where a two-point difference at any e leaves ~1e-10 on
//! gradients of ~1e-4. The relative error of one element is `|a - n| / max(|a|, |n|, floor)`:
//! gradients below `floor` are compared in absolute terms.
//!
//! - [`compare`]: the check itself, for any model and loss (`gradient_check.rs` uses it on
//!   text chunks with a zero and a carried state);
//! - [`Case`] and [`check_cell`]: a random model of one cell and depth from a random carried
//!   state, checked to [`TOL`]. A new cell's gradient check is one call per depth:
//!
//! ```ignore
//! #[test]
//! fn mingru_three_layers() {
//!     check_cell(CellKind::MINGRU, 3);
//! }
//! ```

use charrnn::model::{CellKind, Mode, Model, ModelConfig, Workspace};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// [`check_cell`]'s difference step `e`.
pub const EPS: f64 = 1e-3;
/// [`check_cell`]'s floor: gradients below it are compared in absolute terms.
pub const FLOOR: f64 = 1e-5;
/// [`check_cell`]'s largest accepted relative error.
pub const TOL: f64 = 1e-6;

/// `(8 (f(e) - f(-e)) - (f(2e) - f(-2e))) / 12e`: the derivative at 0 of `f`, to O(e^4).
pub fn central_difference(e: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
    let (l1, l2) = (f(e) - f(-e), f(2.0 * e) - f(-2.0 * e));
    (8.0 * l1 - l2) / (12.0 * e)
}

/// The worst element of one tensor.
#[derive(Debug, Clone)]
pub struct TensorReport {
    pub name: String,
    /// The largest relative error (NaN if any was NaN).
    pub max_rel: f64,
    /// Its index within the tensor.
    pub worst_index: usize,
    pub analytic: f64,
    pub numeric: f64,
    /// Non-zero elements below the floor on both sides, compared absolutely.
    pub floored: usize,
}

impl TensorReport {
    /// `name[index]: analytic vs numeric`.
    pub fn worst(&self) -> String {
        format!(
            "{}[{}]: {} vs {}",
            self.name, self.worst_index, self.analytic, self.numeric
        )
    }
}

/// Compare `analytic` (the gradient of `loss`, one entry per weight of `model`) with
/// [`central_difference`]s of `loss` at step `e`, every element of every tensor of the
/// model's layout; return the worst element of each tensor, in layout order. `loss` is called
/// with the model's weight moved; the weights are restored after each element.
pub fn compare(
    model: &mut Model<f64>,
    analytic: &[f64],
    e: f64,
    floor: f64,
    mut loss: impl FnMut(&Model<f64>) -> f64,
) -> Vec<TensorReport> {
    assert_eq!(analytic.len(), model.layout.len, "one gradient per weight");
    let mut reports = Vec::new();
    for spec in model.layout.tensors.clone() {
        let mut rep = TensorReport {
            name: spec.name.clone(),
            max_rel: 0.0,
            worst_index: 0,
            analytic: 0.0,
            numeric: 0.0,
            floored: 0,
        };
        for (j, i) in spec.range.clone().enumerate() {
            let w0 = model.w[i];
            let numeric = central_difference(e, |d| {
                model.w[i] = w0 + d;
                loss(model)
            });
            model.w[i] = w0;
            let analytic = analytic[i];
            let scale = analytic.abs().max(numeric.abs());
            rep.floored += (scale > 0.0 && scale < floor) as usize;
            let rel = (analytic - numeric).abs() / scale.max(floor);
            // A NaN is the worst there is, and stays so.
            let worse = rel > rep.max_rel || (rel.is_nan() && !rep.max_rel.is_nan());
            if worse {
                rep = TensorReport {
                    max_rel: rel,
                    worst_index: j,
                    analytic,
                    numeric,
                    ..rep
                };
            }
        }
        reports.push(rep);
    }
    reports
}

/// The worst of `reports`: (relative error, [`TensorReport::worst`]).
pub fn worst(reports: &[TensorReport]) -> (f64, String) {
    let mut out = (0.0, String::new());
    for r in reports {
        if r.max_rel > out.0 || (r.max_rel.is_nan() && !out.0.is_nan()) {
            out = (r.max_rel, r.worst());
        }
    }
    out
}

/// A random model (weights N(0, 0.5^2)) with a random carried state (h and c in
/// (-0.8, 0.8)) and a random chunk of ids: vocabulary 6, E 4, H 5, T 5, B 3.
pub struct Case {
    pub model: Model<f64>,
    pub ws: Workspace<f64>,
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
}

impl Case {
    pub fn new(cell: CellKind, layers: usize, seed: u64) -> Case {
        let (vocab, steps, batch) = (6, 5, 3);
        let config = ModelConfig {
            cell,
            vocab,
            emb: 4,
            hidden: 5,
            layers,
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let model = Model::init(config, 0.5, &mut rng);
        let mut ws = Workspace::new(&model.layout, steps, batch);
        for k in 0..layers {
            let (h, c) = ws.carried_mut(k);
            for v in h.iter_mut().chain(c.iter_mut()) {
                *v = rng.random_range(-0.8..0.8);
            }
        }
        let ids = |rng: &mut Xoshiro256PlusPlus| -> Vec<u32> {
            (0..steps * batch)
                .map(|_| rng.random_range(0..vocab as u32))
                .collect()
        };
        let inputs = ids(&mut rng);
        let targets = ids(&mut rng);
        Case {
            model,
            ws,
            inputs,
            targets,
        }
    }

    /// The analytic gradient of `loss / B` after a forward in `mode`.
    pub fn analytic(&mut self, mode: Mode) -> Vec<f64> {
        let mut g = vec![0.0; self.model.layout.len];
        self.model
            .forward_with(&mut self.ws, &self.inputs, Some(&self.targets), mode);
        self.model
            .backward(&mut self.ws, &self.inputs, &self.targets, &mut g);
        g
    }

    /// The largest relative error of `analytic` against central differences of `loss / B`
    /// (step [`EPS`], floor [`FLOOR`]), each evaluated with a forward in `mode()`; with the
    /// element where it occurs.
    pub fn max_rel_error(
        &mut self,
        analytic: &[f64],
        mode: impl Fn() -> Mode<'static>,
    ) -> (f64, String) {
        let b = self.ws.batch as f64;
        let Case {
            model,
            ws,
            inputs,
            targets,
        } = self;
        let reports = compare(model, analytic, EPS, FLOOR, |m| {
            m.forward_with(ws, inputs, Some(targets), mode()) / b
        });
        worst(&reports)
    }
}

/// The gradient check of `cell` at `layers` layers: a [`Case`] in evaluation mode, every
/// element within [`TOL`].
pub fn check_cell(cell: CellKind, layers: usize) {
    let mut c = Case::new(cell, layers, 7 + layers as u64);
    let g = c.analytic(Mode::Eval);
    assert!(g.iter().any(|&v| v.abs() > 1e-3), "a degenerate case");
    let (err, at) = c.max_rel_error(&g, || Mode::Eval);
    println!(
        "{} x{layers}: max relative error {err:.2e} at {at}",
        cell.name()
    );
    assert!(
        err < TOL,
        "{} x{layers}: relative error {err:.2e} at {at}",
        cell.name()
    );
}
