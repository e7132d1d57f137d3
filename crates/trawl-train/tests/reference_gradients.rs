//! Gradients of encoder + MNRL on all-MiniLM-L6-v2 against PyTorch / sentence-transformers
//! (tests/data/grad_reference.json from tests/data/make_grad_reference.py), dropout off: the
//! candle graph in f64, and the packed CPU path in f32.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use trawl_train::bert::Mode;
use trawl_train::{mnrl_loss, packed, LoadOptions, MnrlConfig, SentenceModel};

struct Reference {
    queries: Vec<String>,
    docs: Vec<String>,
    loss: f64,
    grads: serde_json::Map<String, serde_json::Value>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/grad_reference.json"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let texts = |k: &str| -> Vec<String> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let mut docs = texts("positives");
    docs.extend(texts("negatives"));
    Reference {
        queries: texts("queries"),
        docs,
        loss: r["loss"].as_f64().unwrap(),
        grads: r["grads"].as_object().unwrap().clone(),
    }
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Compares every gradient with PyTorch's: the norm within `tol` relative, the first entries
/// within `tol` of the norm. Key biases (zero in exact arithmetic: softmax ignores a per-row
/// shift) must be below `zero`. Returns the worst norm and entry errors.
fn compare(
    r: &Reference,
    loss: f64,
    grads: &HashMap<String, Vec<f64>>,
    tol: f64,
    zero: f64,
) -> (f64, f64) {
    assert!(
        (loss - r.loss).abs() <= tol * 1e-2 * (1.0 + r.loss.abs()),
        "loss {loss} vs PyTorch {}",
        r.loss
    );
    assert_eq!(grads.len(), r.grads.len(), "101 tensors");
    let (mut worst, mut worst_entry) = (0f64, 0f64);
    for (name, want) in &r.grads {
        let g = grads
            .get(name)
            .unwrap_or_else(|| panic!("{name}: no gradient"));
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        let want_norm = want["norm"].as_f64().unwrap();
        if want_norm < 1e-12 {
            assert!(
                norm < zero,
                "{name}: gradient norm {norm:e}, PyTorch's is ~0"
            );
            continue;
        }
        let rel = (norm - want_norm).abs() / want_norm;
        worst = worst.max(rel);
        assert!(
            rel < tol,
            "{name}: gradient norm {norm:e} vs PyTorch {want_norm:e}"
        );
        for (i, w) in want["head"].as_array().unwrap().iter().enumerate() {
            let w = w.as_f64().unwrap();
            let err = (g[i] - w).abs() / want_norm;
            worst_entry = worst_entry.max(err);
            assert!(err < tol * 10.0, "{name}[{i}]: {} vs PyTorch {w}", g[i]);
        }
    }
    (worst, worst_entry)
}

#[test]
fn minilm_gradients_match_pytorch() {
    let Some(dir) = trawl_train::testkit::locate_minilm() else {
        return;
    };
    let r = reference();
    let opts = LoadOptions {
        dtype: DType::F64,
        ..Default::default()
    };
    let model = SentenceModel::load(&dir, &opts).unwrap();
    let qs: Vec<&str> = r.queries.iter().map(String::as_str).collect();
    let docs: Vec<&str> = r.docs.iter().map(String::as_str).collect();
    let qe = model.encode(&qs, &mut Mode::Train(None), false).unwrap();
    let de = model.encode(&docs, &mut Mode::Train(None), false).unwrap();
    let loss = mnrl_loss(&qe, &de, &docs, &qs, &MnrlConfig::default()).unwrap();
    let store = loss.backward().unwrap();
    let grads = model
        .base_vars()
        .into_iter()
        .filter_map(|(n, v)| store.get(v.as_tensor()).map(|g| (n, values(g))))
        .collect();
    let (worst, entry) = compare(&r, values(&loss)[0], &grads, 1e-6, 1e-12);
    eprintln!("graph f64: worst relative gradient-norm error {worst:e}, worst entry error / norm {entry:e}, over 101 tensors");
}

#[test]
fn packed_minilm_gradients_match_pytorch() {
    let Some(dir) = trawl_train::testkit::locate_minilm() else {
        return;
    };
    let r = reference();
    let model = SentenceModel::load(&dir, &LoadOptions::default()).unwrap();
    let qs: Vec<&str> = r.queries.iter().map(String::as_str).collect();
    let docs: Vec<&str> = r.docs.iter().map(String::as_str).collect();
    let (loss, grads) =
        packed::batch_grads(&model, &qs, &docs, &MnrlConfig::default(), None, 1.0).unwrap();
    let grads = grads.iter().map(|(n, g)| (n.clone(), values(g))).collect();
    // f32: round-off of about 1e-6 relative; key biases hold round-off near 1e-7.
    let (worst, entry) = compare(&r, loss, &grads, 1e-4, 1e-6);
    eprintln!("packed f32: worst relative gradient-norm error {worst:e}, worst entry error / norm {entry:e}, over 101 tensors");
}
