//! The `trawl._trawl` extension module: thin bindings over trawl's crates. Each file binds one
//! concept; the Python package `trawl` (python/trawl) re-exports these under friendlier names.

use pyo3::prelude::*;

mod convert;
#[cfg(feature = "dense")]
mod encoder;
mod errors;
mod evaluator;
mod judgements;
mod kb;
mod pystr;
mod rewards;
mod run_batch;
#[cfg(feature = "train")]
mod train;
mod trec9_rank;

#[pymodule]
fn _trawl(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<errors::Error>())?;
    m.add("ParseError", py.get_type::<errors::ParseError>())?;
    m.add(
        "KnowledgeBaseError",
        py.get_type::<errors::KnowledgeBaseError>(),
    )?;
    m.add("ModelError", py.get_type::<errors::ModelError>())?;
    m.add("TrainError", py.get_type::<errors::TrainError>())?;
    m.add_class::<kb::Kb>()?;
    m.add_class::<kb::Hit>()?;
    m.add_class::<rewards::PyRetriever>()?;
    m.add_class::<rewards::DocumentDataset>()?;
    #[cfg(feature = "dense")]
    m.add_class::<encoder::Encoder>()?;
    m.add("HAS_DENSE", cfg!(feature = "dense"))?;
    #[cfg(feature = "train")]
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    #[cfg(feature = "train")]
    m.add_function(wrap_pyfunction!(train::mine_negatives, m)?)?;
    m.add("HAS_TRAIN", cfg!(feature = "train"))?;
    m.add_class::<evaluator::RelevanceEvaluator>()?;
    m.add_function(wrap_pyfunction!(evaluator::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(evaluator::trec_measures, m)?)?;
    Ok(())
}
