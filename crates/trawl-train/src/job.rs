//! One training job end to end, as `trawl train` and Python's `trawl.train` both run it: lock the
//! output and run folders, load the base model (or the run's last checkpoint), refuse outputs
//! that hold an input, read the training and evaluation data, train, and save the model folder.

use std::path::{Path, PathBuf};

use crate::checkpoint::{check_output_dir, save_model_with_lock};
use crate::data::{eval_set_from_examples, read_beir_split, read_examples, split_train_validation};
use crate::model::{resolve_model_dir, LoadOptions, SentenceModel};
use crate::refresh::{corpus_from_kb, kb_source};
use crate::trainer::{
    resume_point, sources_file, train_with, TrainConfig, TrainEvent, TrainInputs, TrainSummary,
};
use crate::{Error, Result};

/// What to train, from what, into where (the `trawl train` options; the trainer's own settings
/// are in `cfg`, whose seed also seeds the model's new weights and the validation split).
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// A sentence-transformers folder or a model name found in ./models or the HF cache.
    pub model: String,
    /// Training data: JSONL pairs/triples or a BEIR folder (its `train_split` qrels).
    pub data: PathBuf,
    pub train_split: String,
    /// The trained model's folder (the best checkpoint when evaluating).
    pub out: PathBuf,
    /// Checkpoints and train_log.jsonl ([`default_run_dir`] unless chosen).
    pub run_dir: PathBuf,
    /// Replace an `out` folder that trawl wrote (never foreign files).
    pub force: bool,
    /// Continue from the last checkpoint in `run_dir`.
    pub resume: bool,
    /// Evaluation data: a BEIR folder (its `split` qrels) or JSONL pairs.
    pub eval: Option<PathBuf>,
    pub split: String,
    /// Without `eval`: the fraction of training queries held out for evaluation.
    pub val_fraction: f64,
    pub max_seq_len: Option<usize>,
    /// A trainable projection head of this width (new runs only).
    pub projection_dim: Option<usize>,
    /// A knowledge base whose live documents `cfg.refresh` mines negatives from (instead of a
    /// BEIR `data` folder's corpus); its generation and content hash are recorded.
    pub kb: Option<PathBuf>,
    pub cfg: TrainConfig,
}

/// `<out>.run`, the run folder of an `out` folder by default.
pub fn default_run_dir(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".run");
    PathBuf::from(s)
}

/// The train_log.jsonl of a run folder.
pub fn log_path(run_dir: &Path) -> PathBuf {
    run_dir.join("train_log.jsonl")
}

/// Runs `job`, reporting progress to `on_event`; the model is in `job.out` when it returns.
pub fn run(job: &TrainJob, on_event: &mut dyn FnMut(&TrainEvent)) -> Result<TrainSummary> {
    let run_dir = &job.run_dir;
    // One run per output: both folders stay locked until the run ends (a second run fails now,
    // naming this one's PID, instead of overwriting its results later).
    let out_lock = trawl_store::DirLock::acquire(&job.out)?;
    let _run_lock = trawl_store::DirLock::acquire(run_dir)?;
    let model_dir = if job.resume {
        resume_point(run_dir).ok_or_else(|| {
            Error::InvalidOption(format!(
                "resume: {} has no checkpoint",
                run_dir.join("last").display()
            ))
        })?
    } else {
        resolve_model_dir(&job.model)?
    };
    let opts = LoadOptions {
        max_seq_len: job.max_seq_len,
        projection_dim: if job.resume { None } else { job.projection_dim },
        seed: job.cfg.seed,
        ..Default::default()
    };
    let model = SentenceModel::load(&model_dir, &opts)?;
    // force may replace a trawl output, never the model or the data being read.
    let mut inputs: Vec<&Path> = vec![job.data.as_path(), run_dir.as_path()];
    if !job.resume {
        inputs.push(model_dir.as_path());
    }
    if let Some(e) = &job.eval {
        inputs.push(e.as_path());
    }
    if let Some(kb) = &job.kb {
        inputs.push(kb.as_path());
    }
    trawl_store::refuse_output_containing(&job.out, &inputs)?;
    let base_inputs: Vec<&Path> = inputs
        .iter()
        .copied()
        .filter(|p| *p != run_dir.as_path())
        .collect();
    trawl_store::refuse_output_containing(run_dir, &base_inputs)?;
    out_lock.recover()?;
    check_output_dir(&job.out, &model, job.force)?;
    let all = read_examples(&job.data, &job.train_split)?;
    let (examples, eval) = match &job.eval {
        Some(p) if p.is_dir() => (all, Some(read_beir_split(p, &job.split)?)),
        Some(p) => {
            let ev = read_examples(p, &job.split)?;
            let set = eval_set_from_examples(&ev, &all);
            (all, Some(set))
        }
        None if job.val_fraction > 0.0 => {
            let (t, v) = split_train_validation(all, job.val_fraction, job.cfg.seed)?;
            let set = eval_set_from_examples(&v, &t);
            (t, Some(set))
        }
        None => (all, None),
    };
    if job.kb.is_some() && job.cfg.refresh.is_none() {
        return Err(Error::InvalidOption(
            "--kb is the corpus --refresh-negatives-every mines negatives from: give both".into(),
        ));
    }
    let mut sources = serde_json::json!({"data": file_source(&job.data, &job.train_split)?});
    if let Some(e) = &job.eval {
        sources["eval"] = file_source(e, &job.split)?;
    }
    let refresh_corpus = match (&job.cfg.refresh, &job.kb) {
        (None, _) => None,
        (Some(_), Some(kb)) => {
            let kb = trawl_kb::KnowledgeBase::open(kb)?;
            sources["kb"] = kb_source(&kb);
            Some(corpus_from_kb(&kb, &examples)?)
        }
        (Some(_), None) if job.data.is_dir() => Some(read_beir_split(&job.data, &job.train_split)?),
        (Some(_), None) => None, // the trainer names the missing corpus
    };
    let inputs = TrainInputs {
        examples: &examples,
        eval: eval.as_ref(),
        refresh_corpus: refresh_corpus.as_ref(),
        sources: &sources,
    };
    let summary = train_with(&model, &inputs, &job.cfg, run_dir, job.resume, on_event)?;
    let final_model = SentenceModel::load(
        &summary.model_dir,
        &LoadOptions {
            max_seq_len: job.max_seq_len,
            ..Default::default()
        },
    )?;
    save_model_with_lock(&final_model, out_lock, job.force, &sources_file(&sources))?;
    Ok(summary)
}

/// What a training or evaluation input was: a JSONL file (its byte hash) or a BEIR folder (the
/// hashes of its corpus, queries and the split's qrels), so a model can be traced to its data.
fn file_source(path: &Path, split: &str) -> Result<serde_json::Value> {
    let hash = |p: &Path| trawl_kb::hash_file(p).map_err(|e| Error::io(p, e));
    if path.is_dir() {
        let ds = trawl_data::beir::BeirDataset::open(path)?;
        let queries = ds.queries_path()?;
        let qrels = ds.qrels_path(split)?;
        return Ok(serde_json::json!({
            "path": path.display().to_string(), "format": "beir", "split": split,
            "corpus_hash": hash(ds.corpus_path())?, "queries_hash": hash(&queries)?,
            "qrels_hash": hash(&qrels)?,
        }));
    }
    Ok(serde_json::json!({
        "path": path.display().to_string(), "format": "jsonl", "hash": hash(path)?,
    }))
}

/// The job's outcome as JSON (`trawl train --json`, and what `trawl.train` returns).
pub fn summary_json(job: &TrainJob, summary: &TrainSummary) -> serde_json::Value {
    let best = summary.best.as_ref().map(|(step, s)| {
        let mut m = serde_json::Map::new();
        m.insert("step".into(), (*step).into());
        for (n, v) in &s.values {
            m.insert(n.clone(), (*v).into());
        }
        serde_json::Value::Object(m)
    });
    serde_json::json!({
        "out": job.out, "run_dir": job.run_dir, "steps": summary.steps,
        "seconds": summary.seconds, "seconds_per_step": summary.mean_step_seconds,
        "last_loss": summary.last_loss, "best": best, "stopped_early": summary.stopped_early,
        "refreshes": summary.refreshes.iter().map(|r| r.log_record()).collect::<Vec<_>>(),
    })
}
