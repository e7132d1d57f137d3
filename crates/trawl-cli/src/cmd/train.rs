//! `trawl train --model M --data TRAIN --out DIR`: contrastive fine-tuning (MNRL with in-batch
//! and hard negatives), evaluation during training, best checkpoint kept, sentence-transformers
//! folder out.

use std::path::PathBuf;
use std::process::ExitCode;

use trawl_train::job::{self, TrainJob};
use trawl_train::mining::{parse_range, MiningConfig};
use trawl_train::refresh::RefreshConfig;
use trawl_train::trainer::{TrainConfig, TrainEvent};
use trawl_train::{IsotropyConfig, MnrlConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Base model: a sentence-transformers folder or a hub id found in ./models or the HF cache.
    #[arg(long)]
    pub model: String,
    /// Training data: JSONL ({"query","positive","negatives"} or {"question","answer"|"context"},
    /// e.g. from `trawl mine-negatives`) or a BEIR folder (its --train-split qrels).
    #[arg(long)]
    pub data: PathBuf,
    /// Qrels split of a BEIR training folder.
    #[arg(long, default_value = "train")]
    pub train_split: String,
    /// Output folder for the trained model (the best checkpoint when evaluating).
    #[arg(long)]
    pub out: PathBuf,
    /// Checkpoints and train_log.jsonl; default: `<out>.run`.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Replace an --out folder that holds something else.
    #[arg(long)]
    pub force: bool,
    /// Continue the run in --run-dir from its last checkpoint (same data and settings).
    #[arg(long)]
    pub resume: bool,
    /// Evaluation data: a BEIR folder (with --split) or JSONL pairs.
    #[arg(long)]
    pub eval: Option<PathBuf>,
    /// Qrels split of the --eval BEIR folder.
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Without --eval: hold out this fraction of the training queries (seeded) for evaluation.
    #[arg(long, default_value_t = 0.0)]
    pub val_fraction: f64,
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Stop after this many optimizer steps.
    #[arg(long)]
    pub max_steps: Option<u64>,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Peak learning rate (of the base model; also the head's unless --head-lr).
    #[arg(long, alias = "base-lr", default_value_t = 2e-5)]
    pub lr: f64,
    /// Peak learning rate of the projection head.
    #[arg(long)]
    pub head_lr: Option<f64>,
    #[arg(long, default_value_t = 0.1)]
    pub warmup_ratio: f64,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: off).
    #[arg(long, default_value_t = 1.0)]
    pub max_grad_norm: f64,
    /// Tokens per text; default: the model's max_seq_length.
    #[arg(long)]
    pub max_seq_len: Option<usize>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Similarity scale of the loss (sentence-transformers' 20).
    #[arg(long, default_value_t = 20.0, conflicts_with = "temperature")]
    pub scale: f64,
    /// Softmax temperature instead of --scale (e.g. 0.07 = scale 1/0.07).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Also score each positive against all queries (symmetric loss).
    #[arg(long)]
    pub symmetric: bool,
    /// Hard negatives used per example.
    #[arg(long)]
    pub max_negatives: Option<usize>,
    /// Evaluate every N steps (default: every epoch).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Metric that picks the best checkpoint.
    #[arg(long, default_value = "ndcg@10")]
    pub metric: String,
    /// Stop after N evaluations without improvement.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Train only a projection head on top of the frozen model.
    #[arg(long, requires = "projection_dim")]
    pub freeze_base: bool,
    /// Add a trainable Dense projection of this width.
    #[arg(long)]
    pub projection_dim: Option<usize>,
    /// Stop this invocation after N steps (resume later with --resume).
    #[arg(long)]
    pub interrupt_after: Option<u64>,
    /// Weight of an isotropy term added to the loss (0: off); its value is logged per step.
    #[arg(long, default_value_t = 0.0)]
    pub isotropy_weight: f64,
    /// The isotropy term: `covariance` (distance of the batch covariance from a scaled identity)
    /// or `uniformity` (Wang & Isola's uniformity loss).
    #[arg(long, default_value = "covariance")]
    pub isotropy_kind: String,
    /// Compute gradients with candle's generic autograd instead of trawl's packed CPU kernels
    /// (same gradients, slower; the packed path is used only for f32 models on the CPU anyway).
    #[arg(long)]
    pub autograd: bool,
    /// Texts per forward pass during evaluation (and negatives refreshes).
    #[arg(long, default_value_t = 64)]
    pub eval_batch_size: usize,
    /// Re-mine hard negatives after every N optimizer steps (ANCE): re-encode the corpus with
    /// the current weights and mine each training query's negatives from it, as `trawl
    /// mine-negatives --retriever dense` does with that step's checkpoint (same --seed, --batch-size
    /// = --eval-batch-size). The corpus: --kb, or --data as a BEIR folder.
    #[arg(long)]
    pub refresh_negatives_every: Option<u64>,
    /// A knowledge base whose live documents the refreshes mine from (training positives are
    /// found in it by text); its generation and content hash go into train_log.jsonl and
    /// training_sources.json.
    #[arg(long, requires = "refresh_negatives_every")]
    pub kb: Option<PathBuf>,
    /// Negatives mined per query at each refresh (--max-negatives of them are trained on).
    #[arg(long, default_value_t = 5)]
    pub refresh_num: usize,
    /// Candidate ranks refreshes draw from, FROM-TO (as `mine-negatives --range`).
    #[arg(long, default_value = "1-100")]
    pub refresh_range: String,
    /// Drop refresh candidates whose cosine is within this margin of the positive's.
    #[arg(long)]
    pub refresh_margin: Option<f64>,
    /// top, random or semi-hard (as `mine-negatives --strategy`).
    #[arg(long, default_value = "top")]
    pub refresh_strategy: String,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Refused: training runs in f32 (int8 is for inference; quantise the trained model when
    /// you load it, e.g. `trawl encode --quantize int8`).
    #[command(flatten)]
    pub quantize: super::QuantizeArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.quantize.get() != super::Quantize::None {
        anyhow::bail!(
            "--quantize {}: a quantised model cannot be trained (its int8 weights have no \
             gradients); train in f32 and pass --quantize {} where the trained model is loaded \
             (encode, search, beir, serve, kb build --dense)",
            args.quantize.get(),
            args.quantize.get()
        );
    }
    let refresh = match args.refresh_negatives_every {
        Some(every) => Some(RefreshConfig {
            every,
            mining: MiningConfig {
                num: args.refresh_num,
                range: parse_range(&args.refresh_range)?,
                margin: args.refresh_margin,
                strategy: args.refresh_strategy.parse()?,
                seed: args.seed,
                ..Default::default()
            },
        }),
        None => None,
    };
    let loss = match args.temperature {
        Some(t) => MnrlConfig::from_temperature(t, args.symmetric)?,
        None => MnrlConfig {
            scale: args.scale,
            symmetric: args.symmetric,
        },
    };
    let cfg = TrainConfig {
        epochs: args.epochs,
        max_steps: args.max_steps,
        batch_size: args.batch_size,
        grad_accum: args.grad_accum,
        lr: args.lr,
        head_lr: args.head_lr,
        warmup_ratio: args.warmup_ratio,
        weight_decay: args.weight_decay,
        max_grad_norm: args.max_grad_norm,
        loss,
        isotropy: IsotropyConfig {
            weight: args.isotropy_weight,
            kind: args.isotropy_kind.parse()?,
        },
        max_negatives: args.max_negatives.unwrap_or(usize::MAX),
        freeze_base: args.freeze_base,
        seed: args.seed,
        eval_every: args.eval_every,
        eval_batch_size: args.eval_batch_size,
        best_metric: args
            .metric
            .parse()
            .map_err(|e| anyhow::anyhow!("--metric: {e}"))?,
        patience: args.patience,
        interrupt_after: args.interrupt_after,
        packed_cpu: !args.autograd,
        refresh,
    };
    let job = TrainJob {
        run_dir: args
            .run_dir
            .unwrap_or_else(|| job::default_run_dir(&args.out)),
        model: args.model,
        data: args.data,
        train_split: args.train_split,
        out: args.out,
        force: args.force,
        resume: args.resume,
        eval: args.eval,
        split: args.split,
        val_fraction: args.val_fraction,
        max_seq_len: args.max_seq_len,
        projection_dim: args.projection_dim,
        kb: args.kb,
        cfg,
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid template"),
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let summary = job::run(&job, &mut |e| match e {
        TrainEvent::Started {
            total_steps,
            start_step,
            ..
        } => {
            bar.set_length(*total_steps);
            bar.set_position(*start_step);
        }
        TrainEvent::Step {
            step,
            loss,
            lr,
            examples_per_sec,
            ..
        } => {
            bar.set_position(*step);
            bar.set_message(format!(
                "loss {loss:.4}  lr {lr:.2e}  {examples_per_sec:.1} ex/s"
            ));
        }
        TrainEvent::Evaluated {
            step,
            scores,
            is_best,
        } => {
            let vals: Vec<String> = scores
                .values
                .iter()
                .map(|(n, v)| format!("{n} {v:.4}"))
                .collect();
            bar.println(format!(
                "step {step}: {}{}",
                vals.join("  "),
                if *is_best { "  (best)" } else { "" }
            ));
        }
        TrainEvent::Refreshed { report: r } => {
            bar.println(format!(
                "step {}: negatives refreshed: {} documents and {} queries encoded in {:.1} s{}, mined in {:.2} s ({} lines, {} negatives)",
                r.step,
                r.documents,
                r.queries,
                r.encode_seconds,
                if r.shared_with_eval { " (shared with evaluation)" } else { "" },
                r.mine_seconds,
                r.lines,
                r.negatives
            ));
        }
        TrainEvent::Saved { .. } => {}
    })?;
    bar.finish_and_clear();
    if args.json {
        let out = job::summary_json(&job, &summary);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "trained {} steps in {:.1}s ({:.2} s/step), last loss {:.4}",
            summary.steps, summary.seconds, summary.mean_step_seconds, summary.last_loss
        );
        if !summary.refreshes.is_empty() {
            let n = summary.refreshes.len() as f64;
            let mean = |f: fn(&trawl_train::refresh::RefreshReport) -> f64| {
                summary.refreshes.iter().map(f).sum::<f64>() / n
            };
            println!(
                "{} negatives refreshes, {:.1} s each on average (encoding {:.1} s, mining {:.2} s)",
                summary.refreshes.len(),
                mean(|r| r.seconds()),
                mean(|r| r.encode_seconds),
                mean(|r| r.mine_seconds)
            );
        }
        if let Some((step, s)) = &summary.best {
            let vals: Vec<String> = s
                .values
                .iter()
                .map(|(n, v)| format!("{n} {v:.4}"))
                .collect();
            println!("best at step {step}: {}", vals.join("  "));
        }
        if summary.stopped_early {
            println!(
                "stopped early (no improvement for {} evaluations)",
                job.cfg.patience.unwrap_or(0)
            );
        }
        println!(
            "model: {}   (checkpoints and train_log.jsonl: {})",
            job.out.display(),
            job.run_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
