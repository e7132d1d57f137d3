//! `trawl.train` and `trawl.mine_negatives`: the `trawl train` / `trawl mine-negatives` commands
//! (crates/trawl-cli/src/cmd/{train,mine_negatives}.rs) in-process, with the same options and
//! defaults; training runs the CLI's job (trawl_train::job). The GIL is released while they run.

use std::path::{Path, PathBuf};

use pyo3::exceptions::{PyFileExistsError, PyValueError};
use pyo3::prelude::*;
use trawl_train::data::{eval_set_from_examples, read_beir_split, read_examples};
use trawl_train::job::{self, TrainJob};
use trawl_train::mining::{
    bm25_candidates, dense_candidates, mine, parse_range, write_jsonl, MiningConfig, ScoreKind,
};
use trawl_train::model::{resolve_model_dir, LoadOptions, SentenceModel};
use trawl_train::trainer::TrainConfig;
use trawl_train::MnrlConfig;

use crate::errors::{data_error, embed_error, io_error, ModelError, TrainError};

/// trawl-train's errors as Python exceptions (see errors.rs for the scheme).
pub fn train_error(e: trawl_train::Error) -> PyErr {
    use trawl_train::Error as E;
    match e {
        E::Io { ref source, .. } => io_error(source.kind(), e.to_string()),
        E::Data { .. } => crate::errors::ParseError::new_err(e.to_string()),
        E::ModelLookup(inner) => embed_error(inner),
        E::InvalidOption(_) => PyValueError::new_err(e.to_string()),
        E::OutputExists { .. } => PyFileExistsError::new_err(e.to_string()),
        E::Model { .. } | E::Tokenizer(_) => ModelError::new_err(e.to_string()),
        E::Store(inner) => store_error(inner),
        E::IrData(inner) => data_error(inner),
        E::Kb(inner) => crate::errors::kb_error(inner),
        E::Tensor(_) => TrainError::new_err(e.to_string()),
    }
}

fn store_error(e: trawl_store::Error) -> PyErr {
    use trawl_store::Error as E;
    let message = e.to_string();
    match &e {
        E::Io { source, .. } => io_error(source.kind(), message),
        E::ForeignFiles { .. } => PyFileExistsError::new_err(message),
        E::OutputContainsInput { .. } | E::UnsafePath { .. } => PyValueError::new_err(message),
        _ => TrainError::new_err(message),
    }
}

/// Python's value of a JSON value (dicts, lists, numbers; a non-finite number is None).
fn to_py(py: Python<'_>, v: &serde_json::Value) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(v).expect("JSON values serialise");
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// "FROM-TO" or a (FROM, TO) pair.
fn range_arg(range: &Bound<'_, PyAny>) -> PyResult<(usize, usize)> {
    let text = match range.extract::<(i64, i64)>() {
        Ok((a, b)) => format!("{a}-{b}"),
        Err(_) => range.extract::<String>().map_err(|_| {
            PyValueError::new_err(
                "range must be \"FROM-TO\" (e.g. \"10-100\") or a (FROM, TO) pair",
            )
        })?,
    };
    parse_range(&text).map_err(train_error)
}

/// Mines hard negatives (`trawl mine-negatives`): returns the CLI's `--json` summary.
#[pyfunction]
#[pyo3(signature = (
    data, out, *, split = "train".to_string(), retriever = "bm25".to_string(),
    model = "all-MiniLM-L6-v2".to_string(), num = 5, range = None, margin = None,
    strategy = "top".to_string(), seed = 42, batch_size = 64
))]
#[allow(clippy::too_many_arguments)]
pub fn mine_negatives(
    py: Python<'_>,
    data: PathBuf,
    out: PathBuf,
    split: String,
    retriever: String,
    model: String,
    num: usize,
    range: Option<&Bound<'_, PyAny>>,
    margin: Option<f64>,
    strategy: String,
    seed: u64,
    batch_size: usize,
) -> PyResult<Py<PyAny>> {
    let range = match range {
        Some(r) => range_arg(r)?,
        None => parse_range("1-100").map_err(train_error)?,
    };
    let dense = match retriever.as_str() {
        "bm25" => false,
        "dense" => true,
        other => {
            return Err(PyValueError::new_err(format!(
                "retriever must be \"bm25\" or \"dense\", got {other:?}"
            )))
        }
    };
    if batch_size == 0 {
        return Err(PyValueError::new_err("batch_size must be positive"));
    }
    let cfg = MiningConfig {
        num,
        range,
        margin,
        strategy: strategy.parse().map_err(train_error)?,
        seed,
        ..Default::default()
    };
    let summary = py.detach(|| -> trawl_train::Result<serde_json::Value> {
        let set = if data.is_dir() {
            read_beir_split(&data, &split)?
        } else {
            let ex = read_examples(&data, &split)?;
            eval_set_from_examples(&ex, &[])
        };
        let k = range.1 + 16;
        let (cands, kind) = if dense {
            let dir = resolve_model_dir(&model)?;
            let model = SentenceModel::load(&dir, &LoadOptions::default())?;
            (
                dense_candidates(&model, &set, k, batch_size)?,
                ScoreKind::Cosine,
            )
        } else {
            (bm25_candidates(&set, k)?, ScoreKind::Bm25)
        };
        let mined = mine(&set, &cands, kind, &cfg)?;
        write_jsonl(&out, &mined)?;
        let with_negs = mined.iter().filter(|m| !m.negatives.is_empty()).count();
        let total_negs: usize = mined.iter().map(|m| m.negatives.len()).sum();
        Ok(serde_json::json!({
            "out": out, "lines": mined.len(), "lines_with_negatives": with_negs,
            "negatives": total_negs,
        }))
    });
    to_py(py, &summary.map_err(train_error)?)
}

/// Fine-tunes a model (`trawl train`): returns the CLI's `--json` summary plus `log`, the
/// `train_log.jsonl` records this call wrote.
#[pyfunction]
#[pyo3(signature = (
    model, data, out, *, train_split = "train".to_string(), run_dir = None, force = false,
    resume = false, eval = None, split = "dev".to_string(), val_fraction = 0.0, epochs = 1,
    max_steps = None, batch_size = 32, grad_accum = 1, lr = 2e-5, head_lr = None,
    warmup_ratio = 0.1, weight_decay = 0.01, max_grad_norm = 1.0, max_seq_len = None, seed = 42,
    scale = None, temperature = None, symmetric = false, max_negatives = None, eval_every = None,
    metric = "ndcg@10".to_string(), patience = None, freeze_base = false, projection_dim = None,
    interrupt_after = None, autograd = false, eval_batch_size = 64, isotropy_weight = 0.0,
    isotropy_kind = "covariance".to_string()
))]
#[allow(clippy::too_many_arguments)]
pub fn train(
    py: Python<'_>,
    model: String,
    data: PathBuf,
    out: PathBuf,
    train_split: String,
    run_dir: Option<PathBuf>,
    force: bool,
    resume: bool,
    eval: Option<PathBuf>,
    split: String,
    val_fraction: f64,
    epochs: usize,
    max_steps: Option<u64>,
    batch_size: usize,
    grad_accum: usize,
    lr: f64,
    head_lr: Option<f64>,
    warmup_ratio: f64,
    weight_decay: f64,
    max_grad_norm: f64,
    max_seq_len: Option<usize>,
    seed: u64,
    scale: Option<f64>,
    temperature: Option<f64>,
    symmetric: bool,
    max_negatives: Option<usize>,
    eval_every: Option<u64>,
    metric: String,
    patience: Option<usize>,
    freeze_base: bool,
    projection_dim: Option<usize>,
    interrupt_after: Option<u64>,
    autograd: bool,
    eval_batch_size: usize,
    isotropy_weight: f64,
    isotropy_kind: String,
) -> PyResult<Py<PyAny>> {
    // The CLI's clap rules (conflicts_with / requires), as ValueErrors.
    let loss = match (scale, temperature) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err("give scale or temperature, not both"))
        }
        (_, Some(t)) => MnrlConfig::from_temperature(t, symmetric).map_err(train_error)?,
        (s, None) => MnrlConfig {
            scale: s.unwrap_or(20.0),
            symmetric,
        },
    };
    if freeze_base && projection_dim.is_none() {
        return Err(PyValueError::new_err(
            "freeze_base needs projection_dim (a projection head to train)",
        ));
    }
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(PyValueError::new_err(format!(
            "val_fraction must be in [0, 1), got {val_fraction}"
        )));
    }
    if eval_batch_size == 0 {
        return Err(PyValueError::new_err("eval_batch_size must be positive"));
    }
    let best_metric = metric
        .parse()
        .map_err(|e| PyValueError::new_err(format!("metric: {e}")))?;
    let job = TrainJob {
        model,
        data,
        train_split,
        run_dir: run_dir.unwrap_or_else(|| job::default_run_dir(&out)),
        out,
        force,
        resume,
        eval,
        split,
        val_fraction,
        max_seq_len,
        projection_dim,
        kb: None,
        cfg: TrainConfig {
            epochs,
            max_steps,
            batch_size,
            grad_accum,
            lr,
            head_lr,
            warmup_ratio,
            weight_decay,
            max_grad_norm,
            loss,
            isotropy: trawl_train::IsotropyConfig {
                weight: isotropy_weight,
                kind: isotropy_kind.parse().map_err(train_error)?,
            },
            max_negatives: max_negatives.unwrap_or(usize::MAX),
            freeze_base,
            seed,
            eval_every,
            eval_batch_size,
            best_metric,
            patience,
            interrupt_after,
            packed_cpu: !autograd,
            refresh: None,
        },
    };
    let (summary, log) = py
        .detach(|| -> trawl_train::Result<_> {
            // The log is appended to (a resumed run continues it): return only this call's records.
            let log_path = job::log_path(&job.run_dir);
            let log_start = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
            let summary = job::run(&job, &mut |_| {})?;
            Ok((
                job::summary_json(&job, &summary),
                read_log(&log_path, log_start)?,
            ))
        })
        .map_err(train_error)?;
    let out = to_py(py, &summary)?;
    // Parsed by Python's json so that floats read back exactly as written.
    let loads = py.import("json")?.getattr("loads")?;
    let records = log
        .iter()
        .map(|line| loads.call1((line,)))
        .collect::<PyResult<Vec<_>>>()?;
    out.bind(py).set_item("log", records)?;
    Ok(out)
}

/// The non-empty lines of `path` from byte `start` on (JSON records, one a line).
fn read_log(path: &Path, start: u64) -> trawl_train::Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| trawl_train::Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let text = String::from_utf8_lossy(&bytes[(start as usize).min(bytes.len())..]).into_owned();
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}
