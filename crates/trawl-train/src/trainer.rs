//! The training loop: shuffled batches, MNRL, gradient accumulation and clipping, AdamW with a
//! linear warmup/decay schedule, periodic evaluation, best/last checkpoints, early stopping,
//! resuming, a JSONL log and progress events.
//!
//! Run directory layout: `train_log.jsonl`, `best/` (the best model by the chosen metric, a
//! sentence-transformers folder) and `last/` (the latest model plus `trainer_state.json` and
//! `optimizer.safetensors`, for `resume`).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Tensor, Var};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use trawl_eval::Metric;

use crate::bert::Mode;
use crate::checkpoint::save_model;
use crate::data::{EvalSet, TrainExample};
use crate::dropout::DropoutRng;
use crate::evaluate::{default_metrics, evaluate_dense, EvalScores};
use crate::isotropy::{add_isotropy, IsotropyConfig};
use crate::loss::{mnrl_loss, MnrlConfig};
use crate::model::SentenceModel;
use crate::optim::{clip_factor, grad_norm, linear_schedule, AdamW, ParamGroup};
pub use crate::resume::resume_point;
use crate::resume::{restore, save_last, TrainerState};
use crate::{Error, Result};

/// Training settings (defaults follow sentence-transformers' MNRL recipe).
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub epochs: usize,
    /// Stop after this many optimizer steps (default: all epochs).
    pub max_steps: Option<u64>,
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Peak learning rate of the transformer.
    pub lr: f64,
    /// Peak learning rate of the projection head (default: `lr`).
    pub head_lr: Option<f64>,
    pub warmup_ratio: f64,
    pub weight_decay: f64,
    /// Global gradient-norm clip (0 = off).
    pub max_grad_norm: f64,
    pub loss: MnrlConfig,
    /// An isotropy term added to the loss (weight 0: off).
    pub isotropy: IsotropyConfig,
    /// Hard negatives used per example (the first ones of its list).
    pub max_negatives: usize,
    /// Train only the projection head.
    pub freeze_base: bool,
    pub seed: u64,
    /// Evaluate every N optimizer steps (and at the end); `None`: at the end of each epoch.
    pub eval_every: Option<u64>,
    pub eval_batch_size: usize,
    pub best_metric: Metric,
    /// Stop after this many evaluations without improvement of `best_metric`.
    pub patience: Option<usize>,
    /// Stop this invocation after N steps (checkpointing `last/`) while the schedule still spans
    /// the whole run: for time-boxed sessions that `resume` later.
    pub interrupt_after: Option<u64>,
    /// Train f32 CPU models on the packed path ([`crate::packed`]); `false` uses the candle
    /// graph ([`crate::bert`]), which other devices and dtypes always use.
    pub packed_cpu: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            max_steps: None,
            batch_size: 32,
            grad_accum: 1,
            lr: 2e-5,
            head_lr: None,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            loss: MnrlConfig::default(),
            isotropy: IsotropyConfig::default(),
            max_negatives: usize::MAX,
            freeze_base: false,
            seed: 42,
            eval_every: None,
            eval_batch_size: 64,
            best_metric: Metric::Ndcg(Some(10)),
            patience: None,
            interrupt_after: None,
            packed_cpu: true,
        }
    }
}

/// What the trainer reports while it runs.
#[derive(Debug)]
pub enum TrainEvent<'a> {
    Started {
        total_steps: u64,
        start_step: u64,
        examples: usize,
    },
    Step {
        step: u64,
        total_steps: u64,
        epoch: usize,
        loss: f64,
        lr: f64,
        grad_norm: f64,
        examples_per_sec: f64,
    },
    Evaluated {
        step: u64,
        scores: &'a EvalScores,
        is_best: bool,
    },
    Saved {
        step: u64,
        dir: &'a Path,
    },
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub steps: u64,
    pub seconds: f64,
    pub mean_step_seconds: f64,
    pub last_loss: f64,
    pub best: Option<(u64, EvalScores)>,
    pub stopped_early: bool,
    /// The folder to publish: `best/` when evaluation ran, else `last/`.
    pub model_dir: PathBuf,
}

fn batches_for_epoch(n: usize, batch: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    idx.shuffle(&mut rng);
    idx.chunks(batch)
        .filter(|c| c.len() >= 2)
        .map(<[usize]>::to_vec)
        .collect()
}

struct Log {
    file: std::fs::File,
    path: PathBuf,
}

impl Log {
    fn write(&mut self, v: serde_json::Value) -> Result<()> {
        writeln!(self.file, "{v}").map_err(|e| Error::io(&self.path, e))
    }
}

/// Trains `model` in place. With `resume`, continues from `run_dir/last` (the caller must have
/// loaded `model` from [`resume_point`]); optimizer moments, step, best metric and the data order
/// are restored (dropout masks and batch order derive from the seed and step, so no RNG state
/// is needed).
pub fn train(
    model: &SentenceModel,
    examples: &[TrainExample],
    eval: Option<&EvalSet>,
    cfg: &TrainConfig,
    run_dir: &Path,
    resume: bool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainSummary> {
    validate(cfg, examples, model)?;
    std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let per_epoch = (batches_for_epoch(examples.len(), cfg.batch_size, cfg.seed, 0).len()
        / cfg.grad_accum)
        .max(1) as u64;
    let mut total = per_epoch * cfg.epochs as u64;
    if let Some(m) = cfg.max_steps {
        total = total.min(m);
    }
    let warmup = (total as f64 * cfg.warmup_ratio).round() as u64;
    let mut groups = Vec::new();
    if !cfg.freeze_base {
        groups.push(ParamGroup {
            params: model.base_vars(),
            lr: cfg.lr,
        });
    }
    if model.has_head() {
        groups.push(ParamGroup {
            params: model.head_vars(),
            lr: cfg.head_lr.unwrap_or(cfg.lr),
        });
    }
    let mut opt = AdamW::new(groups, cfg.weight_decay)?;
    let trainable: Vec<(String, Var)> = opt
        .vars()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    let mut state = TrainerState {
        step: 0,
        seed: cfg.seed,
        batch_size: cfg.batch_size,
        grad_accum: cfg.grad_accum,
        examples: examples.len(),
        total_steps: total,
        best_value: None,
        best_step: None,
        evals_since_best: 0,
    };
    if resume {
        state = restore(run_dir, &state, &mut opt)?;
    }
    let log_path = run_dir.join("train_log.jsonl");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io(&log_path, e))?;
    let mut log = Log {
        file,
        path: log_path,
    };
    on_event(&TrainEvent::Started {
        total_steps: total,
        start_step: state.step,
        examples: examples.len(),
    });
    log.write(serde_json::json!({"event": "start", "step": state.step, "total_steps": total, "examples": examples.len(), "batch_size": cfg.batch_size, "lr": cfg.lr, "isotropy_weight": cfg.isotropy.weight, "isotropy_kind": cfg.isotropy.kind.name()}))?;

    let started = Instant::now();
    let (mut last_loss, mut stepped, mut stopped_early) = (f64::NAN, 0u64, false);
    let mut best = None;
    let metrics = default_metrics_with(&cfg.best_metric);
    'outer: while state.step < total {
        let epoch = (state.step / per_epoch) as usize;
        let batches = batches_for_epoch(examples.len(), cfg.batch_size, cfg.seed, epoch);
        let first = ((state.step % per_epoch) as usize) * cfg.grad_accum;
        for group in batches[first..].chunks(cfg.grad_accum) {
            if group.len() < cfg.grad_accum || state.step >= total {
                break;
            }
            if cfg.interrupt_after.is_some_and(|n| stepped >= n) {
                break 'outer;
            }
            let t0 = Instant::now();
            let mut grads: HashMap<String, Tensor> = HashMap::new();
            let (mut loss_sum, mut iso_sum) = (0f64, None::<f64>);
            for (mi, batch) in group.iter().enumerate() {
                let micro = state.step * cfg.grad_accum as u64 + mi as u64;
                let mut rng = DropoutRng::for_step(cfg.seed, micro);
                let (loss, iso, g) =
                    batch_grads(model, examples, batch, cfg, &mut rng, &trainable)?;
                loss_sum += loss;
                if let Some(v) = iso {
                    // The mean over the micro-batches.
                    *iso_sum.get_or_insert(0.0) += v / cfg.grad_accum as f64;
                }
                for (name, t) in g {
                    let t = match grads.remove(&name) {
                        Some(acc) => (acc + t)?,
                        None => t,
                    };
                    grads.insert(name, t);
                }
            }
            let grad_norm = grad_norm(&grads)?;
            if !loss_sum.is_finite() || !grad_norm.is_finite() {
                // Stop before the update: the weights and the last checkpoint stay good.
                return Err(Error::InvalidOption(format!(
                    "loss or gradient became non-finite at step {} (loss {loss_sum}, gradient norm {grad_norm}); \
                     lower --lr or raise --temperature, and resume from the last checkpoint",
                    state.step + 1
                )));
            }
            let mult = linear_schedule(state.step, warmup, total);
            opt.step(&grads, mult, clip_factor(grad_norm, cfg.max_grad_norm))?;
            state.step += 1;
            stepped += 1;
            last_loss = loss_sum;
            let secs = t0.elapsed().as_secs_f64();
            let lr = cfg.lr * mult;
            let eps = (cfg.batch_size * cfg.grad_accum) as f64 / secs.max(1e-9);
            on_event(&TrainEvent::Step {
                step: state.step,
                total_steps: total,
                epoch,
                loss: loss_sum,
                lr,
                grad_norm,
                examples_per_sec: eps,
            });
            let mut entry = serde_json::json!({"event": "step", "step": state.step, "epoch": epoch, "loss": loss_sum, "lr": lr, "grad_norm": grad_norm, "seconds": secs});
            if let Some(v) = iso_sum {
                // The unweighted term; `loss` includes weight x term.
                entry["isotropy"] = serde_json::json!(v);
            }
            log.write(entry)?;
            let end_of_epoch = state.step.is_multiple_of(per_epoch);
            let due = match cfg.eval_every {
                Some(n) => state.step.is_multiple_of(n.max(1)) || state.step == total,
                None => end_of_epoch || state.step == total,
            };
            if due {
                if let Some(set) = eval {
                    let scores = evaluate_dense(model, set, &metrics, cfg.eval_batch_size)?;
                    let value = scores.get(&cfg.best_metric).unwrap_or(f64::NAN);
                    let is_best = state.best_value.is_none_or(|b| value > b);
                    if is_best {
                        state.best_value = Some(value);
                        state.best_step = Some(state.step);
                        state.evals_since_best = 0;
                        let dir = run_dir.join("best");
                        save_model(model, &dir, false, &[])?;
                        on_event(&TrainEvent::Saved {
                            step: state.step,
                            dir: &dir,
                        });
                        best = Some((state.step, scores.clone()));
                    } else {
                        state.evals_since_best += 1;
                    }
                    on_event(&TrainEvent::Evaluated {
                        step: state.step,
                        scores: &scores,
                        is_best,
                    });
                    let mut entry = serde_json::json!({"event": "eval", "step": state.step, "is_best": is_best});
                    for (n, v) in &scores.values {
                        entry[n] = serde_json::json!(v);
                    }
                    log.write(entry)?;
                }
                save_last(model, &opt, &state, run_dir)?;
                on_event(&TrainEvent::Saved {
                    step: state.step,
                    dir: &run_dir.join("last"),
                });
                if cfg.patience.is_some_and(|p| state.evals_since_best >= p) && eval.is_some() {
                    stopped_early = true;
                    log.write(serde_json::json!({"event": "early_stop", "step": state.step}))?;
                    break 'outer;
                }
            }
        }
    }
    if resume_point(run_dir).is_none() || stepped > 0 {
        save_last(model, &opt, &state, run_dir)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    log.write(serde_json::json!({"event": "end", "step": state.step, "seconds": seconds, "stopped_early": stopped_early}))?;
    if best.is_none() {
        if let (Some(step), Some(_)) = (state.best_step, state.best_value) {
            // Resumed run whose best came before the resume: report it from the log-free state.
            best = Some((step, EvalScores { values: Vec::new() }));
        }
    }
    let model_dir = if run_dir.join("best").exists() && eval.is_some() {
        run_dir.join("best")
    } else {
        run_dir.join("last")
    };
    Ok(TrainSummary {
        steps: state.step,
        seconds,
        mean_step_seconds: if stepped > 0 {
            seconds / stepped as f64
        } else {
            0.0
        },
        last_loss,
        best,
        stopped_early,
        model_dir,
    })
}

fn default_metrics_with(best: &Metric) -> Vec<Metric> {
    let mut m = default_metrics();
    if !m.contains(best) {
        m.push(*best);
    }
    m
}

fn validate(cfg: &TrainConfig, examples: &[TrainExample], model: &SentenceModel) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidOption(m));
    if cfg.batch_size < 2 {
        return bad(format!(
            "batch size must be at least 2 (in-batch negatives), got {}",
            cfg.batch_size
        ));
    }
    cfg.isotropy.validate()?;
    if cfg.grad_accum == 0 || cfg.epochs == 0 {
        return bad("epochs and gradient accumulation must be at least 1".into());
    }
    if examples.len() < cfg.batch_size.min(2) || examples.len() < 2 {
        return bad(format!(
            "need at least 2 training examples, got {}",
            examples.len()
        ));
    }
    if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
        return bad(format!("learning rate must be > 0, got {}", cfg.lr));
    }
    if !(0.0..=1.0).contains(&cfg.warmup_ratio) {
        return bad(format!(
            "warmup ratio must be in [0, 1], got {}",
            cfg.warmup_ratio
        ));
    }
    if cfg.freeze_base && !model.has_head() {
        return bad(
            "--freeze-base needs a projection head (--projection-dim) or nothing would train"
                .into(),
        );
    }
    Ok(())
}

/// The loss of one micro-batch (divided by the accumulation count), the isotropy term's value
/// (when on) and the gradients of the `trainable` parameters.
fn batch_grads(
    model: &SentenceModel,
    examples: &[TrainExample],
    batch: &[usize],
    cfg: &TrainConfig,
    rng: &mut DropoutRng,
    trainable: &[(String, Var)],
) -> Result<(f64, Option<f64>, HashMap<String, Tensor>)> {
    let queries: Vec<&str> = batch.iter().map(|&i| examples[i].query.as_str()).collect();
    let mut docs: Vec<&str> = batch
        .iter()
        .map(|&i| examples[i].positive.as_str())
        .collect();
    for &i in batch {
        docs.extend(
            examples[i]
                .negatives
                .iter()
                .take(cfg.max_negatives)
                .map(String::as_str),
        );
    }
    // The folder's prefixes, as inference applies them (the loss keys see the same texts).
    let (q_owned, d_owned) = (
        model.with_query_prefix(&queries),
        model.with_document_prefix(&docs),
    );
    let queries: Vec<&str> = q_owned.iter().map(String::as_str).collect();
    let docs: Vec<&str> = d_owned.iter().map(String::as_str).collect();
    let scale = 1.0 / cfg.grad_accum as f64;
    if cfg.packed_cpu && !cfg.freeze_base && crate::packed::supports(model) {
        return crate::packed::batch_grads_with_isotropy(
            model,
            &queries,
            &docs,
            &cfg.loss,
            &cfg.isotropy,
            Some(rng),
            scale,
        );
    }
    let mut mode = Mode::Train(Some(rng));
    let q = model.encode(&queries, &mut mode, cfg.freeze_base)?;
    let d = model.encode(&docs, &mut mode, cfg.freeze_base)?;
    let (loss, iso) = add_isotropy(
        mnrl_loss(&q, &d, &docs, &queries, &cfg.loss)?,
        &q,
        &d,
        &cfg.isotropy,
    )?;
    let loss = (loss * scale)?;
    let value = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
    let store = loss.backward()?;
    let grads = trainable
        .iter()
        .filter_map(|(name, var)| store.get(var).map(|g| (name.clone(), g.clone())))
        .collect();
    Ok((value, iso, grads))
}
