//! The `trawl._trawl` extension module: thin bindings over trawl's crates. Each file binds one
//! concept; the Python package `trawl` (python/trawl) re-exports these under friendlier names.

use pyo3::prelude::*;

mod convert;
mod errors;
mod evaluator;
mod pystr;

#[pymodule]
fn _trawl(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<errors::Error>())?;
    m.add("ParseError", py.get_type::<errors::ParseError>())?;
    m.add_class::<evaluator::RelevanceEvaluator>()?;
    m.add_function(wrap_pyfunction!(evaluator::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(evaluator::trec_measures, m)?)?;
    Ok(())
}
