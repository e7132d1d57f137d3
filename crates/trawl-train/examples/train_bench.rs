//! Timing driver for bench/train.sh: trains MODEL on DATA for a fixed number of steps (no
//! evaluation), prints per-step seconds as JSON, saves the model to OUT and writes the trained
//! model's embeddings of a few texts to OUT.embeddings.json (for the sentence-transformers
//! reload check).
//!
//! cargo run --release -p trawl-train --example train_bench -- MODEL DATA OUT STEPS BATCH MAX_SEQ_LEN

use std::path::PathBuf;

use trawl_train::data::read_examples;
use trawl_train::trainer::{train, TrainConfig, TrainEvent};
use trawl_train::{LoadOptions, SentenceModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 6 && a.len() != 7 {
        eprintln!("usage: train_bench MODEL DATA OUT STEPS BATCH MAX_SEQ_LEN [PROJECTION_DIM]");
        std::process::exit(2);
    }
    let (model_dir, data, out) = (
        PathBuf::from(&a[0]),
        PathBuf::from(&a[1]),
        PathBuf::from(&a[2]),
    );
    let (steps, batch, max_len): (u64, usize, usize) =
        (a[3].parse()?, a[4].parse()?, a[5].parse()?);
    // With PROJECTION_DIM: frozen base + trainable Dense head (the cheap recipe).
    let projection: Option<usize> = a.get(6).map(|s| s.parse()).transpose()?;
    let opts = LoadOptions {
        max_seq_len: Some(max_len),
        projection_dim: projection,
        ..Default::default()
    };
    let model = SentenceModel::load(&model_dir, &opts)?;
    let examples = read_examples(&data, "train")?;
    let cfg = TrainConfig {
        max_steps: Some(steps),
        batch_size: batch,
        lr: 2e-5,
        head_lr: Some(1e-3),
        freeze_base: projection.is_some(),
        warmup_ratio: 0.1,
        ..Default::default()
    };
    let run_dir = PathBuf::from(format!("{}.run", out.display()));
    let _ = std::fs::remove_dir_all(&run_dir);
    let mut step_secs = Vec::new();
    let mut last = std::time::Instant::now();
    let mut losses = Vec::new();
    train(&model, &examples, None, &cfg, &run_dir, false, &mut |e| {
        if let TrainEvent::Step { loss, .. } = e {
            step_secs.push(last.elapsed().as_secs_f64());
            losses.push(*loss);
            last = std::time::Instant::now();
        }
        if let TrainEvent::Started { .. } = e {
            last = std::time::Instant::now();
        }
    })?;
    trawl_train::checkpoint::save_model(&model, &out, true, &[])?;
    let texts = [
        "what causes cancer",
        "Microstructural development of human newborn cerebral white matter",
        "a",
    ];
    let emb = model.embed(&texts, 8)?;
    let rows: Vec<&[f32]> = emb.chunks(model.dim()).collect();
    std::fs::write(
        format!("{}.embeddings.json", out.display()),
        serde_json::to_string(&serde_json::json!({"texts": texts, "embeddings": rows}))?,
    )?;
    let mut sorted = step_secs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    println!(
        "{}",
        serde_json::json!({"step_seconds": step_secs, "median_step_seconds": median, "losses": losses})
    );
    Ok(())
}
