//! Resumable training state: the `last/` checkpoint's `trainer_state.json` (step, seed, best
//! metric, early-stopping counter) and `optimizer.safetensors` (AdamW moments).

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::checkpoint::save_model;
use crate::model::SentenceModel;
use crate::optim::AdamW;
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct TrainerState {
    pub(crate) step: u64,
    pub(crate) seed: u64,
    pub(crate) batch_size: usize,
    pub(crate) grad_accum: usize,
    pub(crate) examples: usize,
    pub(crate) total_steps: u64,
    pub(crate) best_value: Option<f64>,
    pub(crate) best_step: Option<u64>,
    pub(crate) evals_since_best: usize,
    /// The step of the last negatives refresh (its lines are `last/negatives.jsonl`).
    #[serde(default)]
    pub(crate) last_refresh: Option<u64>,
}

/// Where a run in `run_dir` can be resumed from (the `last/` checkpoint), if anywhere. A save
/// killed part-way is recovered first (an old checkpoint moved aside is put back, temporary
/// folders are removed), so the last complete checkpoint is found after a kill at any point.
pub fn resume_point(run_dir: &Path) -> Option<PathBuf> {
    let last = run_dir.join("last");
    // Best effort: a run folder we cannot lock or clean is still read as it is.
    let _ = trawl_store::recover_unlocked(&last);
    last.join("trainer_state.json").exists().then_some(last)
}

pub(crate) fn save_last(
    model: &SentenceModel,
    opt: &AdamW,
    state: &TrainerState,
    run_dir: &Path,
    extra: &[(&str, Vec<u8>)],
) -> Result<()> {
    let tensors = opt.state_tensors()?;
    let mut items: Vec<(&String, &Tensor)> = tensors.iter().collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    let bytes = safetensors::tensor::serialize(items, None)
        .map_err(|e| Error::InvalidOption(format!("cannot serialise optimizer state: {e}")))?;
    let state_json = serde_json::to_vec_pretty(state).expect("state serialises");
    let mut files = vec![
        ("optimizer.safetensors", bytes),
        ("trainer_state.json", state_json),
    ];
    files.extend(extra.iter().cloned());
    save_model(model, &run_dir.join("last"), false, &files)
}

pub(crate) fn restore(
    run_dir: &Path,
    fresh: &TrainerState,
    opt: &mut AdamW,
) -> Result<TrainerState> {
    let last = resume_point(run_dir).ok_or_else(|| {
        Error::InvalidOption(format!(
            "nothing to resume: {} has no checkpoint",
            run_dir.join("last").display()
        ))
    })?;
    let path = last.join("trainer_state.json");
    let state: TrainerState = crate::modules::read_json(&path)?;
    let same = (
        state.seed,
        state.batch_size,
        state.grad_accum,
        state.examples,
    ) == (
        fresh.seed,
        fresh.batch_size,
        fresh.grad_accum,
        fresh.examples,
    );
    if !same {
        return Err(Error::InvalidOption(format!(
            "{}: checkpoint was made with seed {}, batch size {}, accumulation {} on {} examples; resume with the same settings and data",
            path.display(), state.seed, state.batch_size, state.grad_accum, state.examples
        )));
    }
    let opt_path = last.join("optimizer.safetensors");
    let tensors = candle_core::safetensors::load(&opt_path, &candle_core::Device::Cpu)
        .map_err(|e| Error::model(&opt_path, e.to_string()))?;
    opt.load_state(&tensors, state.step)?;
    Ok(TrainerState {
        total_steps: fresh.total_steps,
        ..state
    })
}
