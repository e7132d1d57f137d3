//! The training loop: shuffled batches, MNRL, gradient accumulation and clipping, AdamW with a
//! linear warmup/decay schedule, periodic evaluation, best/last checkpoints, early stopping,
//! resuming, a JSONL log and progress events.
//!
//! Run directory layout: `train_log.jsonl`, `best/` (the best model by the chosen metric, a
//! sentence-transformers folder) and `last/` (the latest model plus `trainer_state.json` and
//! `optimizer.safetensors`, for `resume`; with negatives refreshes ([`crate::refresh`]) also
//! `negatives.jsonl`, the lines of the last refresh, in `trawl mine-negatives`' format). Every
//! saved folder holds `training_sources.json` when the run was told where its data came from
//! ([`TrainInputs::sources`]).

use std::borrow::Cow;
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
use crate::evaluate::{default_metrics, evaluate_dense_with, EvalScores};
use crate::isotropy::{add_isotropy, IsotropyConfig};
use crate::loss::{mnrl_loss, MnrlConfig};
use crate::mining::{embed_corpus, MinedExample};
use crate::model::SentenceModel;
use crate::optim::{clip_factor, grad_norm, linear_schedule, AdamW, ParamGroup};
use crate::refresh::{apply, refresh, RefreshConfig, RefreshReport};
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
    /// Re-mine hard negatives from a corpus every N steps ([`crate::refresh`]); needs
    /// [`TrainInputs::refresh_corpus`].
    pub refresh: Option<RefreshConfig>,
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
            refresh: None,
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
    /// Negatives were re-mined after `report.step` (see [`crate::refresh`]).
    Refreshed {
        report: &'a RefreshReport,
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
    /// The negatives refreshes this invocation ran.
    pub refreshes: Vec<RefreshReport>,
}

/// What a run trains on, besides the model and settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainInputs<'a> {
    pub examples: &'a [TrainExample],
    /// Evaluated during training (the best checkpoint is chosen on it).
    pub eval: Option<&'a EvalSet>,
    /// The corpus, training queries and their positives that [`TrainConfig::refresh`] mines
    /// negatives from (a BEIR training folder, or [`crate::refresh::corpus_from_kb`]).
    pub refresh_corpus: Option<&'a EvalSet>,
    /// Where the data came from (files and their hashes, a KB's generation and content hash):
    /// written into the log's `start` record and, as `training_sources.json`, into every saved
    /// folder. `Null`: not recorded.
    pub sources: &'a serde_json::Value,
}

/// The file beside a saved model that names the data it was trained on.
pub const SOURCES_FILE: &str = "training_sources.json";

/// The [`SOURCES_FILE`] entry for a saved folder (none when `sources` is `Null`).
pub fn sources_file(sources: &serde_json::Value) -> Vec<(&'static str, Vec<u8>)> {
    if sources.is_null() {
        return Vec::new();
    }
    vec![(
        SOURCES_FILE,
        serde_json::to_vec_pretty(sources).expect("JSON values serialise"),
    )]
}

const NEGATIVES_FILE: &str = "negatives.jsonl";

fn mined_bytes(mined: &[MinedExample]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for m in mined {
        serde_json::to_writer(&mut bytes, m).expect("mined lines serialise");
        bytes.push(b'\n');
    }
    bytes
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
    let inputs = TrainInputs {
        examples,
        eval,
        refresh_corpus: None,
        sources: &serde_json::Value::Null,
    };
    train_with(model, &inputs, cfg, run_dir, resume, on_event)
}

/// [`train`] with a corpus to refresh negatives from and the data's sources recorded.
pub fn train_with(
    model: &SentenceModel,
    inputs: &TrainInputs,
    cfg: &TrainConfig,
    run_dir: &Path,
    resume: bool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainSummary> {
    let eval = inputs.eval;
    validate(cfg, inputs.examples, model)?;
    let refresh_with = match (&cfg.refresh, inputs.refresh_corpus) {
        (None, _) => None,
        (Some(r), Some(set)) => {
            r.validate()?;
            if cfg.max_negatives == 0 {
                return Err(Error::InvalidOption(
                    "--refresh-negatives-every with --max-negatives 0: no step would use the mined negatives".into(),
                ));
            }
            if set.corpus.is_empty() || set.queries.is_empty() {
                return Err(Error::InvalidOption(
                    "the corpus to refresh negatives from has no documents or no queries".into(),
                ));
            }
            Some((r, set))
        }
        (Some(_), None) => {
            return Err(Error::InvalidOption(
                "--refresh-negatives-every needs a corpus to mine negatives from: give --data a BEIR folder, or --kb a knowledge base".into(),
            ))
        }
    };
    // Evaluation and a refresh at the same step embed the same corpus once when it is the same.
    let shared_corpus = match (refresh_with, eval) {
        (Some((_, r)), Some(e)) => {
            r.corpus.len() == e.corpus.len()
                && r.corpus.iter().zip(&e.corpus).all(|(a, b)| a.1 == b.1)
        }
        _ => false,
    };
    let mut examples: Cow<[TrainExample]> = Cow::Borrowed(inputs.examples);
    let mut mined: Option<Vec<MinedExample>> = None;
    let sources = sources_file(inputs.sources);
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
        last_refresh: None,
    };
    if resume {
        state = restore(run_dir, &state, &mut opt)?;
        if state.last_refresh.is_some() {
            // The negatives in force at the checkpoint: those of the last refresh.
            let path = run_dir.join("last").join(NEGATIVES_FILE);
            let lines = crate::mining::read_jsonl(&path)?;
            apply(examples.to_mut(), &lines);
            mined = Some(lines);
        }
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
    let mut start = serde_json::json!({"event": "start", "step": state.step, "total_steps": total, "examples": examples.len(), "batch_size": cfg.batch_size, "lr": cfg.lr, "isotropy_weight": cfg.isotropy.weight, "isotropy_kind": cfg.isotropy.kind.name()});
    if !inputs.sources.is_null() {
        start["sources"] = inputs.sources.clone();
    }
    if let Some((r, set)) = refresh_with {
        start["refresh"] = serde_json::json!({"every": r.every, "num": r.mining.num, "range": [r.mining.range.0, r.mining.range.1], "margin": r.mining.margin, "strategy": format!("{:?}", r.mining.strategy).to_lowercase(), "documents": set.corpus.len(), "queries": set.queries.len()});
    }
    log.write(start)?;
    let mut refreshes = Vec::new();

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
                    batch_grads(model, &examples, batch, cfg, &mut rng, &trainable)?;
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
            let refresh_due = refresh_with.is_some_and(|(r, _)| r.due(state.step, total));
            // The refresh corpus embedded once for this step's evaluation and refresh.
            let mut corpus_embedded: Option<(Vec<f32>, f64)> = None;
            if refresh_due && due && shared_corpus && eval.is_some() {
                let (_, set) = refresh_with.expect("refresh_due implies a refresh");
                let t = Instant::now();
                let d = embed_corpus(model, set, cfg.eval_batch_size)?;
                corpus_embedded = Some((d, t.elapsed().as_secs_f64()));
            }
            let mut stopping = false;
            if due {
                if let Some(set) = eval {
                    let shared = corpus_embedded.as_ref().map(|(d, _)| d.as_slice());
                    let scores =
                        evaluate_dense_with(model, set, &metrics, cfg.eval_batch_size, shared)?;
                    let value = scores.get(&cfg.best_metric).unwrap_or(f64::NAN);
                    let is_best = state.best_value.is_none_or(|b| value > b);
                    if is_best {
                        state.best_value = Some(value);
                        state.best_step = Some(state.step);
                        state.evals_since_best = 0;
                        let dir = run_dir.join("best");
                        save_model(model, &dir, false, &sources)?;
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
                stopping =
                    cfg.patience.is_some_and(|p| state.evals_since_best >= p) && eval.is_some();
            }
            if refresh_due && !stopping {
                let (r, set) = refresh_with.expect("refresh_due implies a refresh");
                let shared = corpus_embedded.as_ref().map(|(d, s)| (d.as_slice(), *s));
                let (lines, report) = refresh(
                    model,
                    set,
                    &r.mining,
                    cfg.eval_batch_size,
                    shared,
                    state.step,
                )?;
                apply(examples.to_mut(), &lines);
                mined = Some(lines);
                state.last_refresh = Some(state.step);
                log.write(report.log_record())?;
                on_event(&TrainEvent::Refreshed { report: &report });
                refreshes.push(report);
            }
            if due || refresh_due {
                // A refresh is checkpointed at once: a resumed run never repeats one.
                save_last(
                    model,
                    &opt,
                    &state,
                    run_dir,
                    &last_extras(&sources, mined.as_deref()),
                )?;
                on_event(&TrainEvent::Saved {
                    step: state.step,
                    dir: &run_dir.join("last"),
                });
            }
            if stopping {
                stopped_early = true;
                log.write(serde_json::json!({"event": "early_stop", "step": state.step}))?;
                break 'outer;
            }
        }
    }
    if resume_point(run_dir).is_none() || stepped > 0 {
        save_last(
            model,
            &opt,
            &state,
            run_dir,
            &last_extras(&sources, mined.as_deref()),
        )?;
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
        refreshes,
    })
}

/// The files `last/` holds besides the model and trainer state.
fn last_extras(
    sources: &[(&'static str, Vec<u8>)],
    mined: Option<&[MinedExample]>,
) -> Vec<(&'static str, Vec<u8>)> {
    let mut extra = sources.to_vec();
    if let Some(m) = mined {
        extra.push((NEGATIVES_FILE, mined_bytes(m)));
    }
    extra
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
