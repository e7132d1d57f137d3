//! Gradients of encoder + MNRL on all-MiniLM-L6-v2 against PyTorch / sentence-transformers
//! (tests/data/grad_reference.json from tests/data/make_grad_reference.py), f64, dropout off.

use candle_core::DType;
use trawl_train::bert::Mode;
use trawl_train::{mnrl_loss, LoadOptions, MnrlConfig, SentenceModel};

#[test]
fn minilm_gradients_match_pytorch() {
    let Some(dir) = trawl_train::testkit::locate_minilm() else {
        return;
    };
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
    let (q, p, n) = (texts("queries"), texts("positives"), texts("negatives"));
    let model = SentenceModel::load(
        &dir,
        &LoadOptions {
            dtype: DType::F64,
            ..Default::default()
        },
    )
    .unwrap();
    let qs: Vec<&str> = q.iter().map(String::as_str).collect();
    let docs: Vec<&str> = p.iter().chain(&n).map(String::as_str).collect();
    let qe = model.encode(&qs, &mut Mode::Train(None), false).unwrap();
    let de = model.encode(&docs, &mut Mode::Train(None), false).unwrap();
    let loss = mnrl_loss(&qe, &de, &docs, &qs, &MnrlConfig::default()).unwrap();
    let value = loss.to_scalar::<f64>().unwrap();
    let want = r["loss"].as_f64().unwrap();
    assert!(
        (value - want).abs() <= 1e-9 + 1e-7 * want.abs(),
        "loss {value} vs PyTorch {want}"
    );
    let grads = loss.backward().unwrap();
    let reference = r["grads"].as_object().unwrap();
    let (mut worst, mut worst_entry) = (0f64, 0f64);
    let vars = model.base_vars();
    assert_eq!(vars.len(), reference.len());
    for (name, var) in vars {
        let want = &reference[&name];
        let g: Vec<f64> = grads
            .get(&var)
            .unwrap_or_else(|| panic!("{name}: no gradient"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        let want_norm = want["norm"].as_f64().unwrap();
        if want_norm < 1e-12 {
            // Key biases: mathematically zero (softmax ignores a per-row shift); both are round-off.
            assert!(
                norm < 1e-12,
                "{name}: gradient norm {norm:e}, PyTorch's is ~0"
            );
            continue;
        }
        let rel = (norm - want_norm).abs() / want_norm;
        worst = worst.max(rel);
        assert!(
            rel < 1e-6,
            "{name}: gradient norm {norm:e} vs PyTorch {want_norm:e}"
        );
        // Single entries: relative to the tensor's gradient norm.
        for (i, w) in want["head"].as_array().unwrap().iter().enumerate() {
            let w = w.as_f64().unwrap();
            let err = (g[i] - w).abs() / want_norm.max(1e-30);
            worst_entry = worst_entry.max(err);
            assert!(err < 1e-5, "{name}[{i}]: {} vs PyTorch {w}", g[i]);
        }
    }
    eprintln!("loss {value} (PyTorch {want}); worst relative gradient-norm error {worst:e}, worst entry error / norm {worst_entry:e}, over 101 tensors");
}
