//! `charrnn._charrnn`: the extension module behind the `charrnn` Python package.
//!
//! A thin shell over the library, as the CLI is: keyword arguments become library configs
//! ([`options`]), library errors become Python exceptions ([`errors`]), and no panic crosses
//! into Python. The Python package (`python/charrnn/`) adds the progress display, the public
//! `train` signature and the PyTorch hand-off (`charrnn.torch`).
//!
//! - [`train`]: a whole training run, the GIL released, Ctrl-C checked between steps;
//! - [`model`]: `Model` (load, save, sample, score, step, state, weights, vocab);
//! - [`sampling`]: sampling settings and the iterator of characters;
//! - [`handoff`]: training state and text for `charrnn.torch`, and checked checkpoint writes.

use pyo3::prelude::*;

mod errors;
mod handoff;
mod model;
mod options;
mod sampling;
mod train;

#[pymodule]
fn _charrnn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DivergedError", py.get_type::<errors::DivergedError>())?;
    m.add("Interrupted", py.get_type::<errors::Interrupted>())?;
    m.add("RUN_FIELDS", options::field_names())?;
    m.add("CELLS", charrnn::model::cell_names())?;
    m.add_class::<model::PyModel>()?;
    m.add_class::<sampling::SampleIter>()?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(handoff::read_run, m)?)?;
    m.add_function(wrap_pyfunction!(handoff::run_text, m)?)?;
    m.add_function(wrap_pyfunction!(handoff::write_checkpoint, m)?)?;
    m.add_function(wrap_pyfunction!(handoff::checkpoint_name, m)?)?;
    m.add_function(wrap_pyfunction!(handoff::rotate_checkpoints, m)?)?;
    Ok(())
}
