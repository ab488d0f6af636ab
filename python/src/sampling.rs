//! Sampling settings as `Model.sample` takes them, checked as `charrnn sample` checks its
//! flags (the messages name the keyword arguments), and the iterator form that yields
//! characters as they are drawn.

use std::sync::{Arc, Mutex};

use charrnn::checkpoint::Checkpoint;
use charrnn::sample::{SampleConfig, Sampler, StopMatcher};
use charrnn::vocab::describe_chars;
use charrnn::{Model, Vocab};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use self_cell::self_cell;

use crate::errors::guard;

/// The widest beam `beam` accepts (as `charrnn sample --beam`).
pub const MAX_BEAM: usize = 1024;

/// A sample's settings, checked.
pub struct Plan {
    pub config: SampleConfig,
    pub n: usize,
    pub seed: u64,
    pub beam: Option<usize>,
    /// The prime's ids and the text they spell (the sample starts with it).
    pub prime: Vec<u32>,
    pub echo: String,
    pub stop: Vec<u32>,
}

/// The keyword arguments of `Model.sample`.
pub struct Args<'a> {
    pub prime: Option<&'a str>,
    pub n: usize,
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub argmax: bool,
    pub beam: Option<usize>,
    pub seed: Option<u64>,
    pub stop: Option<&'a str>,
    pub unknown: &'a str,
}

fn bad<T>(msg: String) -> PyResult<T> {
    Err(PyValueError::new_err(msg))
}

impl Args<'_> {
    /// Check the settings against each other and `vocab`, as `charrnn sample` does.
    pub fn plan(&self, vocab: &Vocab) -> PyResult<Plan> {
        if self.n == 0 {
            return bad("`n` must be at least 1".into());
        }
        let given = [
            ("temperature", self.temperature.is_some()),
            ("top_k", self.top_k.is_some()),
            ("top_p", self.top_p.is_some()),
        ];
        for (name, set) in given {
            if set && self.argmax {
                return bad(format!(
                    "`argmax` cannot be used with `{name}`: argmax always takes the most likely character"
                ));
            }
            if set && self.beam.is_some() {
                return bad(format!(
                    "`beam` cannot be used with `{name}`: beam search looks for the most likely continuation"
                ));
            }
        }
        if self.argmax && self.beam.is_some() {
            return bad("`argmax` cannot be used with `beam`".into());
        }
        let t = self.temperature.unwrap_or(1.0);
        if !(t.is_finite() && t > 0.0) {
            return bad(format!(
                "`temperature` must be a number above 0, got {t}; for the most likely character use argmax=True"
            ));
        }
        if self.top_k == Some(0) {
            return bad("`top_k` must be at least 1, got 0".into());
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return bad(format!("`top_p` must be in (0, 1], got {p}"));
            }
        }
        if let Some(w) = self.beam {
            if !(1..=MAX_BEAM).contains(&w) {
                return bad(format!("`beam` must be between 1 and {MAX_BEAM}, got {w}"));
            }
        }
        let skip = match self.unknown {
            "error" => false,
            "skip" => true,
            u => {
                return bad(format!(
                    "`unknown` must be \"error\" or \"skip\", got {u:?}"
                ))
            }
        };
        let (prime, echo) = match self.prime {
            Some(p) => encode_prime(vocab, p, skip)?,
            None => (vec![vocab.id('\n').unwrap_or(0)], String::new()),
        };
        let stop = match self.stop {
            Some(s) => encode_stop(vocab, s)?,
            None => Vec::new(),
        };
        let config = SampleConfig {
            temperature: t,
            top_k: self.top_k,
            top_p: self.top_p,
            argmax: self.argmax,
        };
        Ok(Plan {
            config,
            n: self.n,
            seed: self.seed.unwrap_or_else(clock_seed),
            beam: self.beam,
            prime,
            echo,
            stop,
        })
    }
}

/// The ids of `text` and the text they spell, unknown characters skipped if `skip`.
pub fn encode_prime(vocab: &Vocab, text: &str, skip: bool) -> PyResult<(Vec<u32>, String)> {
    let unknown = vocab.unknown(text);
    if !unknown.is_empty() && !skip {
        return bad(format!(
            "`prime` has characters not in the model's vocabulary: {}; remove them or pass unknown=\"skip\"",
            describe_chars(&unknown)
        ));
    }
    let kept: String = text.chars().filter(|&c| vocab.id(c).is_some()).collect();
    if kept.is_empty() {
        return bad("`prime` has no character the model knows".into());
    }
    let ids = kept.chars().filter_map(|c| vocab.id(c)).collect();
    Ok((ids, kept))
}

fn encode_stop(vocab: &Vocab, stop: &str) -> PyResult<Vec<u32>> {
    if stop.is_empty() {
        return bad("`stop` is empty: give the text to stop after".into());
    }
    let unknown = vocab.unknown(stop);
    if !unknown.is_empty() {
        return bad(format!(
            "`stop` has characters the model can never produce: {}",
            describe_chars(&unknown)
        ));
    }
    Ok(stop.chars().filter_map(|c| vocab.id(c)).collect())
}

/// A seed from the clock, for samples that give none.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The whole sample: the prime's text, then the characters drawn, up to `n` or the end of
/// `stop`.
pub fn sample<T: charrnn::Real>(model: &Model<T>, vocab: &Vocab, plan: &Plan) -> String {
    let mut text = plan.echo.clone();
    match plan.beam {
        Some(w) => {
            let beams = charrnn::sample::beam_search(model, &plan.prime, plan.n, w);
            let mut matcher = StopMatcher::new(&plan.stop);
            if let Some(best) = beams.first() {
                for &c in &best.ids {
                    text.push(vocab.char(c));
                    if matcher.push(c) {
                        break;
                    }
                }
            }
        }
        None => {
            let mut sampler =
                Sampler::with_config(model, plan.seed, plan.config).expect("settings checked");
            sampler.generate_until(&plan.prime, plan.n, &plan.stop, |c| {
                text.push(vocab.char(c));
                std::ops::ControlFlow::Continue(())
            });
        }
    }
    text
}

type Sampler32<'a> = Sampler<'a, f32>;
type Sampler64<'a> = Sampler<'a, f64>;

self_cell!(
    struct Cell32 {
        owner: Arc<Checkpoint<f32>>,
        #[covariant]
        dependent: Sampler32,
    }
);

self_cell!(
    struct Cell64 {
        owner: Arc<Checkpoint<f64>>,
        #[covariant]
        dependent: Sampler64,
    }
);

enum Cell {
    F32(Cell32),
    F64(Cell64),
}

impl Cell {
    fn vocab(&self) -> &Vocab {
        match self {
            Cell::F32(c) => &c.borrow_owner().vocab,
            Cell::F64(c) => &c.borrow_owner().vocab,
        }
    }
}

/// Where an iterator is.
struct IterState {
    cell: Cell,
    prime: Vec<u32>,
    started: bool,
    left: usize,
    matcher: StopMatcher,
}

/// An iterator over the characters of a sample, each yielded as it is drawn (the prime is
/// not yielded). Made by `Model.sample_iter`.
#[pyclass(module = "charrnn", name = "SampleIter")]
pub struct SampleIter {
    state: Mutex<IterState>,
}

impl SampleIter {
    pub fn new_f32(ck: Arc<Checkpoint<f32>>, plan: Plan) -> Self {
        let config = plan.config;
        let cell = Cell32::new(ck, |ck| {
            Sampler::with_config(&ck.model, plan.seed, config).expect("settings checked")
        });
        Self::with(Cell::F32(cell), plan)
    }

    pub fn new_f64(ck: Arc<Checkpoint<f64>>, plan: Plan) -> Self {
        let config = plan.config;
        let cell = Cell64::new(ck, |ck| {
            Sampler::with_config(&ck.model, plan.seed, config).expect("settings checked")
        });
        Self::with(Cell::F64(cell), plan)
    }

    fn with(cell: Cell, plan: Plan) -> Self {
        SampleIter {
            state: Mutex::new(IterState {
                cell,
                prime: plan.prime,
                started: false,
                left: plan.n,
                matcher: StopMatcher::new(&plan.stop),
            }),
        }
    }
}

#[pymethods]
impl SampleIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self) -> PyResult<Option<String>> {
        guard(|| {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if s.left == 0 {
                return Ok(None);
            }
            let st = &mut *s;
            let c = match &mut st.cell {
                Cell::F32(cell) => cell.with_dependent_mut(|_, sm| {
                    if !st.started {
                        sm.prime(&st.prime);
                    }
                    sm.next_char()
                }),
                Cell::F64(cell) => cell.with_dependent_mut(|_, sm| {
                    if !st.started {
                        sm.prime(&st.prime);
                    }
                    sm.next_char()
                }),
            };
            st.started = true;
            st.left = if st.matcher.push(c) { 0 } else { st.left - 1 };
            Ok(Some(st.cell.vocab().char(c).to_string()))
        })
    }
}
