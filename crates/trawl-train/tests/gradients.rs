//! The backward pass of encoder + loss against central finite differences, in f64, on a tiny
//! random BERT; and the trap check that every parameter receives a gradient.

use candle_core::{DType, Tensor};
use rand::{Rng, SeedableRng};
use trawl_train::bert::Mode;
use trawl_train::dropout::DropoutRng;
use trawl_train::testkit::write_tiny_model;
use trawl_train::{mnrl_loss, LoadOptions, MnrlConfig, SentenceModel};

const QUERIES: &[&str] = &["what is the cat", "where is the dog", "who ran in the park"];
const POSITIVES: &[&str] = &[
    "the cat sat on the mat",
    "the dog ran",
    "the cat sat on the mat",
];
const NEGATIVES: &[&str] = &["blue sky and green tree", "the dog ran"];

fn tiny(dtype: DType) -> (tempfile::TempDir, SentenceModel) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), 7).unwrap();
    let opts = LoadOptions {
        dtype,
        ..Default::default()
    };
    let model = SentenceModel::load(dir.path(), &opts).unwrap();
    (dir, model)
}

fn loss(model: &SentenceModel, cfg: &MnrlConfig, mode: &mut Mode) -> Tensor {
    let q = model.encode(QUERIES, mode, false).unwrap();
    let docs: Vec<&str> = POSITIVES.iter().chain(NEGATIVES).copied().collect();
    let d = model.encode(&docs, mode, false).unwrap();
    mnrl_loss(&q, &d, &docs, QUERIES, cfg).unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

fn check_against_finite_differences(cfg: MnrlConfig) {
    let (_dir, model) = tiny(DType::F64);
    let l = loss(&model, &cfg, &mut Mode::Train(None));
    let grads = l.backward().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let eps = 1e-6;
    let (mut compared, mut nonzero, mut worst) = (0, 0, 0f64);
    for (name, var) in model.base_vars() {
        let grad = grads
            .get(&var)
            .unwrap_or_else(|| panic!("{name}: no gradient"));
        let grad: Vec<f64> = grad.flatten_all().unwrap().to_vec1().unwrap();
        let orig = var
            .as_tensor()
            .clone()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let shape = var.shape().clone();
        for _ in 0..4 {
            // Word/position embeddings: sample rows that the batch actually uses.
            let idx = if name.contains("word_embeddings") {
                let row = rng.random_range(5..30);
                row * shape.dims()[1] + rng.random_range(0..shape.dims()[1])
            } else if name.contains("position_embeddings") {
                rng.random_range(0..6 * shape.dims()[1])
            } else {
                rng.random_range(0..orig.len())
            };
            let eval_at = |delta: f64| {
                let mut v = orig.clone();
                v[idx] += delta;
                var.set(&Tensor::from_vec(v, &shape, var.device()).unwrap())
                    .unwrap();
                scalar(&loss(&model, &cfg, &mut Mode::Train(None)))
            };
            let numeric = (eval_at(eps) - eval_at(-eps)) / (2.0 * eps);
            var.set(&Tensor::from_vec(orig.clone(), &shape, var.device()).unwrap())
                .unwrap();
            let analytic = grad[idx];
            let err = (analytic - numeric).abs();
            let tol = 1e-7 + 1e-5 * analytic.abs().max(numeric.abs());
            assert!(
                err <= tol,
                "{name}[{idx}]: backward {analytic:e} vs finite difference {numeric:e} (err {err:e})"
            );
            compared += 1;
            if analytic.abs() > 1e-6 {
                nonzero += 1;
                worst = worst.max(err / analytic.abs());
            }
        }
    }
    eprintln!(
        "compared {compared} entries, {nonzero} non-negligible, worst relative error {worst:e}"
    );
    // The comparison must not pass vacuously on zero gradients.
    assert!(
        nonzero * 10 >= compared * 7,
        "only {nonzero} of {compared} gradients were non-zero"
    );
}

#[test]
fn backward_matches_finite_differences_mnrl() {
    check_against_finite_differences(MnrlConfig::default());
}

#[test]
fn backward_matches_finite_differences_symmetric_temperature() {
    check_against_finite_differences(MnrlConfig::from_temperature(0.07, true).unwrap());
}

#[test]
fn every_tensor_gets_a_gradient_with_dropout() {
    let (_dir, model) = tiny(DType::F32);
    let mut rng = DropoutRng::for_step(1, 0);
    let l = loss(
        &model,
        &MnrlConfig::default(),
        &mut Mode::Train(Some(&mut rng)),
    );
    let grads = l.backward().unwrap();
    let vars = model.base_vars();
    assert_eq!(vars.len(), 5 + 2 * 16);
    for (name, var) in vars {
        let g = grads
            .get(&var)
            .unwrap_or_else(|| panic!("{name}: no gradient"));
        let norm = scalar(&g.sqr().unwrap().sum_all().unwrap());
        assert!(norm > 0.0, "{name}: zero gradient");
    }
}

#[test]
fn every_tensor_of_minilm_gets_a_gradient() {
    let Some(dir) = trawl_train::testkit::locate_minilm() else {
        return;
    };
    let model = SentenceModel::load(&dir, &LoadOptions::default()).unwrap();
    let mut rng = DropoutRng::for_step(1, 0);
    let l = loss(
        &model,
        &MnrlConfig::default(),
        &mut Mode::Train(Some(&mut rng)),
    );
    let grads = l.backward().unwrap();
    let vars = model.base_vars();
    assert_eq!(
        vars.len(),
        101,
        "all-MiniLM-L6-v2 has 101 trainable tensors"
    );
    let with_grad = vars
        .iter()
        .filter(|(_, v)| {
            grads
                .get(v)
                .is_some_and(|g| scalar(&g.abs().unwrap().sum_all().unwrap()) > 0.0)
        })
        .count();
    assert_eq!(
        with_grad, 101,
        "only {with_grad} of 101 tensors got a gradient"
    );
}
