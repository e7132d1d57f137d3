//! The packed CPU training path (hand-written backward over unpadded sequences) against the
//! candle graph path on a tiny model (whose backward the finite-difference tests check), and
//! with dropout against finite differences. (Against PyTorch: tests/reference_gradients.rs.)

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use trawl_train::bert::Mode;
use trawl_train::dropout::DropoutRng;
use trawl_train::isotropy::add_isotropy;
use trawl_train::testkit::write_tiny_model;
use trawl_train::{
    mnrl_loss, packed, IsotropyConfig, IsotropyKind, LoadOptions, MnrlConfig, SentenceModel,
};

// Different lengths, so packing (no padding) is exercised against the padded graph.
const QUERIES: &[&str] = &[
    "what is the cat",
    "where is the dog",
    "who ran in the park on the road",
];
const DOCS: &[&str] = &[
    "the cat sat on the mat",
    "the dog ran",
    "the cat sat on the mat in the house",
    "blue sky and green tree",
    "the dog ran",
];

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn graph_grads(model: &SentenceModel, cfg: &MnrlConfig) -> (f64, HashMap<String, Vec<f64>>) {
    graph_grads_with(model, cfg, &IsotropyConfig::default())
}

fn graph_grads_with(
    model: &SentenceModel,
    cfg: &MnrlConfig,
    iso: &IsotropyConfig,
) -> (f64, HashMap<String, Vec<f64>>) {
    let q = model
        .encode(QUERIES, &mut Mode::Train(None), false)
        .unwrap();
    let d = model.encode(DOCS, &mut Mode::Train(None), false).unwrap();
    let mnrl = mnrl_loss(&q, &d, DOCS, QUERIES, cfg).unwrap();
    let (loss, _) = add_isotropy(mnrl, &q, &d, iso).unwrap();
    let store = loss.backward().unwrap();
    let value = values(&loss)[0];
    let grads = model
        .base_vars()
        .into_iter()
        .chain(model.head_vars())
        .map(|(n, v)| (n, values(store.get(v.as_tensor()).expect("graph gradient"))))
        .collect();
    (value, grads)
}

/// Relative error of each gradient's norm and worst entry error relative to that norm.
fn compare(got: &HashMap<String, Tensor>, want: &HashMap<String, Vec<f64>>, tol: f64) {
    assert_eq!(got.len(), want.len(), "same parameters get gradients");
    for (name, w) in want {
        let g = values(&got[name]);
        assert_eq!(g.len(), w.len(), "{name}: shape");
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        let diff = g
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        // The key biases get zero gradient in exact arithmetic (softmax ignores a per-row shift):
        // both sides hold round-off of about 1e-7 there.
        assert!(
            diff <= tol * norm + 1e-6,
            "{name}: |packed - graph| = {diff:e}, |graph| = {norm:e}"
        );
    }
}

fn tiny(pooling_cls: bool, projection: Option<usize>) -> (tempfile::TempDir, SentenceModel) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), 11).unwrap();
    if pooling_cls {
        std::fs::write(
            dir.path().join("1_Pooling/config.json"),
            r#"{"word_embedding_dimension":16,"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false}"#,
        )
        .unwrap();
    }
    let opts = LoadOptions {
        projection_dim: projection,
        ..Default::default()
    };
    let model = SentenceModel::load(dir.path(), &opts).unwrap();
    (dir, model)
}

#[test]
fn packed_gradients_equal_the_graph_for_mean_and_cls_pooling_and_a_head() {
    for (cls, head) in [(false, None), (true, None), (false, Some(8))] {
        let (_dir, model) = tiny(cls, head);
        packed_equals_graph(&model);
    }
}

/// Loss and gradients of the packed path equal the candle graph's, for two loss settings.
fn packed_equals_graph(model: &SentenceModel) {
    for cfg in [
        MnrlConfig::default(),
        MnrlConfig::from_temperature(0.07, true).unwrap(),
    ] {
        let (want_loss, want) = graph_grads(model, &cfg);
        let (loss, got) = packed::batch_grads(model, QUERIES, DOCS, &cfg, None, 1.0).unwrap();
        assert!(
            (loss - want_loss).abs() < 1e-5 * (1.0 + want_loss.abs()),
            "loss {loss} vs {want_loss}"
        );
        compare(&got, &want, 1e-4);
    }
}

#[test]
fn packed_gradients_with_the_isotropy_term_equal_the_graph() {
    let (_dir, model) = tiny(false, None);
    let cfg = MnrlConfig::default();
    let (plain, _) = packed::batch_grads(&model, QUERIES, DOCS, &cfg, None, 1.0).unwrap();
    for kind in [IsotropyKind::Covariance, IsotropyKind::Uniformity] {
        let iso = IsotropyConfig { weight: 0.5, kind };
        let (want_loss, want) = graph_grads_with(&model, &cfg, &iso);
        let (loss, term, got) =
            packed::batch_grads_with_isotropy(&model, QUERIES, DOCS, &cfg, &iso, None, 1.0)
                .unwrap();
        let term = term.expect("the term's value when on");
        assert!(
            (loss - (plain + 0.5 * term)).abs() < 1e-5 * (1.0 + loss.abs()),
            "{kind:?}: loss {loss} = mnrl {plain} + 0.5 x {term}"
        );
        assert!((loss - want_loss).abs() < 1e-5 * (1.0 + want_loss.abs()));
        compare(&got, &want, 1e-4);
    }
}

#[test]
fn packed_dropout_is_seeded_and_reaches_every_tensor() {
    let (_dir, model) = tiny(false, None);
    let cfg = MnrlConfig::default();
    // Enough rows (about 900) for many parallel row blocks, whose partial sums must still add
    // up in the same order on every run.
    let docs: Vec<&str> = DOCS.iter().cycle().take(120).copied().collect();
    let run = |step| {
        let mut rng = DropoutRng::for_step(5, step);
        packed::batch_grads(&model, QUERIES, &docs, &cfg, Some(&mut rng), 1.0).unwrap()
    };
    let (a, ga) = run(0);
    let (b, gb) = run(0);
    let (c, _) = run(1);
    let (plain, _) = packed::batch_grads(&model, QUERIES, &docs, &cfg, None, 1.0).unwrap();
    assert_eq!(a, b, "same seed and step, same loss");
    assert!(
        a != c && a != plain,
        "dropout changes with the step and is on"
    );
    assert_eq!(ga.len(), 5 + 2 * 16);
    for (name, g) in &ga {
        assert_eq!(values(g), values(&gb[name]), "{name}: deterministic");
        assert!(values(g).iter().any(|v| *v != 0.0), "{name}: zero gradient");
    }
}

#[test]
fn packed_backward_with_dropout_matches_finite_differences() {
    let (_dir, model) = tiny(false, None);
    finite_differences_with_dropout(&model);
    // MPNet: the relative position bias gets the gradient of every layer's scores.
    finite_differences_with_dropout(&tiny_mpnet().0);
}

fn finite_differences_with_dropout(model: &SentenceModel) {
    let cfg = MnrlConfig::default();
    let loss_and_grads = || {
        let mut rng = DropoutRng::for_step(9, 3);
        packed::batch_grads(model, QUERIES, DOCS, &cfg, Some(&mut rng), 1.0).unwrap()
    };
    let (_, grads) = loss_and_grads();
    let mut worst = 0f64;
    for (name, var) in model.base_vars() {
        let base: Vec<f32> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        let g = values(&grads[&name]);
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        // The entry with the largest gradient: a clear signal above f32 noise.
        let i = (0..g.len())
            .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
            .unwrap();
        let eps = 1e-2f32;
        let at = |delta: f32| {
            let mut w = base.clone();
            w[i] += delta;
            var.set(&Tensor::from_vec(w, var.shape(), var.device()).unwrap())
                .unwrap();
            loss_and_grads().0
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
        var.set(&Tensor::from_vec(base, var.shape(), var.device()).unwrap())
            .unwrap();
        // f32 loss round-off over 2 * eps is about 1e-4 (it dominates the key biases, whose
        // gradient is zero in exact arithmetic).
        let err = (numeric - g[i]).abs();
        worst = worst.max(err / norm.max(1e-12));
        assert!(
            err < 2e-2 * norm + 3e-4,
            "{name}[{i}]: analytic {} vs numeric {numeric} (norm {norm})",
            g[i]
        );
    }
    eprintln!("worst |analytic - numeric| / norm with dropout: {worst:e}");
}

/// The tiny random MPNet of trawl-embed's fixtures (relative position buckets, positions past
/// the padding index, no token types), with sentence-transformers' embeddings of its texts.
fn tiny_mpnet() -> (SentenceModel, Vec<String>, Vec<Vec<f32>>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../trawl-embed/tests/fixtures/tiny-mpnet");
    let model = SentenceModel::load(&dir, &LoadOptions::default()).unwrap();
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let texts = r["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let vecs = r["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let row = row.as_array().unwrap();
            row.iter().map(|x| x.as_f64().unwrap() as f32).collect()
        })
        .collect();
    (model, texts, vecs)
}

#[test]
fn mpnet_training_forwards_equal_sentence_transformers() {
    let (model, texts, want) = tiny_mpnet();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    // Batches of 3 (the reference used 4): each text meets other neighbours and padding.
    for chunk in (0..texts.len()).collect::<Vec<_>>().chunks(3) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
        let graph = model.encode(&batch, &mut Mode::Train(None), false).unwrap();
        let packed = packed::embed(&model, &batch).unwrap();
        for (what, got) in [("candle graph", graph), ("packed", packed)] {
            let got: Vec<Vec<f32>> = got.to_vec2().unwrap();
            for (row, &i) in got.iter().zip(chunk) {
                let diff = row
                    .iter()
                    .zip(&want[i])
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(diff <= 1e-5, "{what}, text {i}: max |diff| {diff:e}");
            }
        }
    }
}

#[test]
fn mpnet_packed_gradients_equal_the_graph() {
    let (model, _, _) = tiny_mpnet();
    let names: Vec<String> = model.base_vars().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"encoder.relative_attention_bias.weight".to_string()));
    assert!(!names.iter().any(|n| n.contains("token_type")));
    packed_equals_graph(&model);
}
