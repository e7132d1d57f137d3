//! The trainer on a tiny random BERT: it learns, resumes exactly, trains only the head when the
//! base is frozen, stops early, and writes its log and checkpoints.

use std::path::Path;

use trawl_train::data::{eval_set_from_examples, TrainExample};
use trawl_train::model::{LoadOptions, SentenceModel};
use trawl_train::testkit::{write_tiny_model, WORDS};
use trawl_train::trainer::{resume_point, train, TrainConfig, TrainEvent};

fn examples() -> Vec<TrainExample> {
    let content = &WORDS[2..];
    (0..content.len())
        .map(|i| {
            let w = content[i];
            let other = content[(i * 7 + 3) % content.len()];
            TrainExample {
                query: format!("what is {w}"),
                positive: format!("the {w} and {other}"),
                negatives: vec![format!(
                    "the {} and {}",
                    content[(i + 1) % content.len()],
                    other
                )],
            }
        })
        .collect()
}

fn tiny(dir: &Path, projection: Option<usize>) -> SentenceModel {
    write_tiny_model(dir, 11).unwrap();
    let opts = LoadOptions {
        projection_dim: projection,
        ..Default::default()
    };
    SentenceModel::load(dir, &opts).unwrap()
}

fn weights(model: &SentenceModel) -> Vec<Vec<f32>> {
    model
        .base_vars()
        .iter()
        .chain(model.head_vars().iter())
        .map(|(_, v)| {
            v.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect()
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 4,
        batch_size: 8,
        lr: 3e-3,
        warmup_ratio: 0.1,
        seed: 5,
        eval_every: Some(5),
        ..Default::default()
    }
}

/// The tiny model with dropout off: on a 16-wide model, dropout makes 180 steps at this rate a
/// coin toss (the loss curve depends on the seed), and the two gradient paths draw their masks
/// differently. Dropout itself is checked in tests/packed.rs.
fn tiny_without_dropout(dir: &Path) -> SentenceModel {
    write_tiny_model(dir, 11).unwrap();
    let path = dir.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["hidden_dropout_prob"] = 0.0.into();
    cfg["attention_probs_dropout_prob"] = 0.0.into();
    std::fs::write(&path, cfg.to_string()).unwrap();
    SentenceModel::load(dir, &LoadOptions::default()).unwrap()
}

#[test]
fn training_lowers_the_loss_and_raises_ndcg_on_both_gradient_paths() {
    let ex = examples();
    let eval = eval_set_from_examples(&ex, &[]);
    let mut final_losses = Vec::new();
    for packed_cpu in [true, false] {
        let src = tempfile::tempdir().unwrap();
        let model = tiny_without_dropout(src.path());
        let before = trawl_train::evaluate::evaluate_dense(
            &model,
            &eval,
            &trawl_train::evaluate::default_metrics(),
            16,
        )
        .unwrap();
        let run = tempfile::tempdir().unwrap();
        let mut losses = Vec::new();
        let mut evals = 0;
        let cfg = TrainConfig {
            epochs: 30,
            lr: 5e-3,
            packed_cpu,
            ..config()
        };
        let summary = train(
            &model,
            &ex,
            Some(&eval),
            &cfg,
            run.path(),
            false,
            &mut |e| match e {
                TrainEvent::Step { loss, .. } => losses.push(*loss),
                TrainEvent::Evaluated { .. } => evals += 1,
                _ => {}
            },
        )
        .unwrap();
        assert_eq!(
            summary.steps,
            30 * 6,
            "43 examples / batch 8 = 6 steps per epoch"
        );
        assert_eq!(losses.len(), 180);
        assert!(evals >= 30);
        // Mean loss of the first and of the last epoch (the same batches, reshuffled).
        let first: f64 = losses[..6].iter().sum::<f64>() / 6.0;
        let last: f64 = losses[losses.len() - 6..].iter().sum::<f64>() / 6.0;
        let (_, best) = summary.best.clone().unwrap();
        let ndcg = |s: &trawl_train::evaluate::EvalScores| s.values[0].1;
        eprintln!(
            "packed {packed_cpu}: loss {first} -> {last}, nDCG@10 {} -> {}",
            ndcg(&before),
            ndcg(&best)
        );
        assert!(last < first * 0.5, "loss did not fall: {first} -> {last}");
        assert!(
            ndcg(&best) > ndcg(&before) + 0.3,
            "nDCG@10 {} -> {}",
            ndcg(&before),
            ndcg(&best)
        );
        final_losses.push(last);
    }
    // Same data, same schedule, no dropout: the hand-written backward and candle's autograd
    // must train to the same place (f32 round-off apart).
    let (a, b) = (final_losses[0], final_losses[1]);
    assert!(
        (a - b).abs() <= 1e-3 * b.max(1e-3) + 1e-5,
        "packed {a} vs autograd {b}"
    );
}

#[test]
fn resuming_reproduces_an_uninterrupted_run() {
    let ex = examples();
    let cfg = TrainConfig {
        epochs: 2,
        eval_every: Some(3),
        ..config()
    };
    let (a_src, a_run) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = tiny(a_src.path(), None);
    train(&a, &ex, None, &cfg, a_run.path(), false, &mut |_| {}).unwrap();

    let (b_src, b_run) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b = tiny(b_src.path(), None);
    let first = TrainConfig {
        interrupt_after: Some(4),
        ..cfg.clone()
    };
    let s = train(&b, &ex, None, &first, b_run.path(), false, &mut |_| {}).unwrap();
    assert_eq!(s.steps, 4);
    drop(b);
    let last = resume_point(b_run.path()).expect("a checkpoint to resume from");
    let b = SentenceModel::load(&last, &LoadOptions::default()).unwrap();
    let s = train(&b, &ex, None, &cfg, b_run.path(), true, &mut |_| {}).unwrap();
    assert_eq!(s.steps, 12);
    for (x, y) in weights(&a).iter().zip(weights(&b).iter()) {
        let diff = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "resumed weights differ by {diff}");
    }
    // Resuming with other settings is refused.
    let other = TrainConfig {
        batch_size: 4,
        ..cfg
    };
    assert!(train(&b, &ex, None, &other, b_run.path(), true, &mut |_| {}).is_err());
}

#[test]
fn frozen_base_trains_only_the_projection_head() {
    let src = tempfile::tempdir().unwrap();
    let model = tiny(src.path(), Some(12));
    let before = weights(&model);
    let n_base = model.base_vars().len();
    let run = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        freeze_base: true,
        head_lr: Some(1e-2),
        max_steps: Some(4),
        ..config()
    };
    train(
        &model,
        &examples(),
        None,
        &cfg,
        run.path(),
        false,
        &mut |_| {},
    )
    .unwrap();
    let after = weights(&model);
    assert_eq!(
        &before[..n_base],
        &after[..n_base],
        "base changed while frozen"
    );
    assert_ne!(&before[n_base..], &after[n_base..], "head did not train");
    assert!(run.path().join("last/2_Dense/model.safetensors").exists());
    // Without a head, freezing the base is refused.
    let plain = tiny(tempfile::tempdir().unwrap().path(), None);
    let err = train(
        &plain,
        &examples(),
        None,
        &cfg,
        run.path(),
        false,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("--freeze-base"), "{err}");
}

#[test]
fn early_stopping_after_patience_evaluations_without_improvement() {
    let src = tempfile::tempdir().unwrap();
    let model = tiny(src.path(), None);
    let ex = examples();
    // One query whose only document is its positive: nDCG@10 is 1 at every evaluation.
    let only = TrainExample {
        negatives: Vec::new(),
        ..ex[0].clone()
    };
    let eval = eval_set_from_examples(&[only], &[]);
    assert_eq!(eval.corpus.len(), 1);
    let run = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        eval_every: Some(2),
        patience: Some(2),
        ..config()
    };
    let s = train(
        &model,
        &ex,
        Some(&eval),
        &cfg,
        run.path(),
        false,
        &mut |_| {},
    )
    .unwrap();
    assert!(s.stopped_early);
    assert_eq!(s.steps, 6, "best at step 2, no improvement at 4 and 6");
    assert_eq!(s.best.unwrap().0, 2);
    assert!(run.path().join("last/trainer_state.json").exists());
    assert!(run.path().join("last/optimizer.safetensors").exists());
}

#[test]
fn gradient_accumulation_counts_optimizer_steps() {
    let src = tempfile::tempdir().unwrap();
    let model = tiny(src.path(), None);
    let before = weights(&model);
    let run = tempfile::tempdir().unwrap();
    // 43 examples, batch 4: 10 full batches + 1 of 3 per epoch = 11; accumulation 2 -> 5 steps.
    let cfg = TrainConfig {
        batch_size: 4,
        grad_accum: 2,
        epochs: 1,
        eval_every: None,
        ..config()
    };
    let mut steps = 0;
    let s = train(
        &model,
        &examples(),
        None,
        &cfg,
        run.path(),
        false,
        &mut |e| {
            if let TrainEvent::Step { .. } = e {
                steps += 1;
            }
        },
    )
    .unwrap();
    assert_eq!((s.steps, steps), (5, 5));
    assert_ne!(before, weights(&model));
}

#[test]
fn a_diverging_run_stops_before_corrupting_the_weights() {
    let src = tempfile::tempdir().unwrap();
    let model = tiny(src.path(), None);
    // A temperature of 1e-300 gives a scale of 1e300: the f32 logits overflow to infinity.
    let loss = trawl_train::MnrlConfig {
        scale: 1e300,
        symmetric: false,
    };
    let cfg = TrainConfig {
        loss,
        max_steps: Some(3),
        ..config()
    };
    let before = weights(&model);
    let run = tempfile::tempdir().unwrap();
    let err = train(
        &model,
        &examples(),
        None,
        &cfg,
        run.path(),
        false,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
    assert_eq!(before, weights(&model), "no update was applied");
}

#[test]
fn the_isotropy_term_is_logged_per_step_and_lowered_by_its_weight() {
    let ex = examples();
    // The term's last logged values, for a strong weight and (as the reference) a tiny one.
    let mut tail_means = Vec::new();
    for weight in [1e-6, 2.0] {
        let src = tempfile::tempdir().unwrap();
        let model = tiny_without_dropout(src.path());
        let run = tempfile::tempdir().unwrap();
        let cfg = TrainConfig {
            epochs: 5,
            eval_every: None,
            isotropy: trawl_train::IsotropyConfig {
                weight,
                kind: trawl_train::IsotropyKind::Covariance,
            },
            ..config()
        };
        train(&model, &ex, None, &cfg, run.path(), false, &mut |_| {}).unwrap();
        let log = std::fs::read_to_string(run.path().join("train_log.jsonl")).unwrap();
        let terms: Vec<f64> = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event"] == "step")
            .map(|v| {
                v["isotropy"]
                    .as_f64()
                    .expect("isotropy logged on every step")
            })
            .collect();
        assert_eq!(terms.len(), 5 * 6);
        assert!(terms.iter().all(|t| t.is_finite() && *t >= -1e-6));
        tail_means.push(terms[terms.len() - 6..].iter().sum::<f64>() / 6.0);
    }
    assert!(
        tail_means[1] < 0.8 * tail_means[0],
        "weight 2 leaves a more isotropic batch: {tail_means:?}"
    );
    let bad = TrainConfig {
        isotropy: trawl_train::IsotropyConfig {
            weight: -1.0,
            kind: trawl_train::IsotropyKind::Uniformity,
        },
        ..config()
    };
    let src = tempfile::tempdir().unwrap();
    let model = tiny(src.path(), None);
    let run = tempfile::tempdir().unwrap();
    let err = train(&model, &ex, None, &bad, run.path(), false, &mut |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("isotropy weight must be >= 0"),
        "{err}"
    );
}
