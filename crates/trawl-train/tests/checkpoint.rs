//! Saved folders: exactly the original tensor names/dtypes/shapes, reload to identical
//! embeddings, projection heads as a Dense module, and no clobbering of foreign folders.

use std::collections::BTreeMap;
use std::path::Path;

use trawl_train::checkpoint::save_model;
use trawl_train::testkit::write_tiny_model;
use trawl_train::{Error, LoadOptions, SentenceModel};

const TEXTS: &[&str] = &["the cat sat on the mat", "what is the blue sky", "dog"];

fn header(path: &Path) -> BTreeMap<String, (String, Vec<usize>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, v)| (n, (format!("{:?}", v.dtype()), v.shape().to_vec())))
        .collect()
}

fn perturb(model: &SentenceModel) {
    for (_, var) in model.base_vars().iter().take(7) {
        let t = (var.as_tensor() * 1.01).unwrap();
        var.set(&t).unwrap();
    }
}

#[test]
fn saved_tiny_model_keeps_names_and_reloads_identically() {
    let src = tempfile::tempdir().unwrap();
    write_tiny_model(src.path(), 1).unwrap();
    let model = SentenceModel::load(src.path(), &LoadOptions::default()).unwrap();
    perturb(&model);
    let before = model.embed(TEXTS, 2).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("trained");
    save_model(&model, &dest, false, &[]).unwrap();
    assert_eq!(
        header(&src.path().join("model.safetensors")),
        header(&dest.join("model.safetensors"))
    );
    let reloaded = SentenceModel::load(&dest, &LoadOptions::default()).unwrap();
    assert_eq!(reloaded.embed(TEXTS, 2).unwrap(), before);
    // Training changed the weights: the saved folder is not the source.
    let original = SentenceModel::load(src.path(), &LoadOptions::default()).unwrap();
    assert_ne!(original.embed(TEXTS, 2).unwrap(), before);
    // Saving again over our own folder is allowed.
    save_model(&model, &dest, false, &[]).unwrap();
}

#[test]
fn projection_head_is_saved_as_a_dense_module() {
    let src = tempfile::tempdir().unwrap();
    write_tiny_model(src.path(), 2).unwrap();
    let opts = LoadOptions {
        projection_dim: Some(24),
        ..Default::default()
    };
    let model = SentenceModel::load(src.path(), &opts).unwrap();
    assert_eq!(model.dim(), 24);
    let (_, w) = &model.head_vars()[1];
    w.set(&(w.as_tensor() * 0.9).unwrap()).unwrap();
    let before = model.embed(TEXTS, 3).unwrap();
    let dest = tempfile::tempdir().unwrap().path().join("with-head");
    save_model(&model, &dest, false, &[]).unwrap();
    assert_eq!(
        header(&src.path().join("model.safetensors")),
        header(&dest.join("model.safetensors"))
    );
    let dense = header(&dest.join("2_Dense/model.safetensors"));
    assert_eq!(dense["linear.weight"].1, vec![24, 16]);
    assert_eq!(dense["linear.bias"].1, vec![24]);
    let modules: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dest.join("modules.json")).unwrap()).unwrap();
    let kinds: Vec<&str> = modules
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert!(
        kinds[2].ends_with("Dense") && kinds[3].ends_with("Normalize"),
        "{kinds:?}"
    );
    let reloaded = SentenceModel::load(&dest, &LoadOptions::default()).unwrap();
    assert!(reloaded.has_head());
    assert_eq!(reloaded.embed(TEXTS, 3).unwrap(), before);
}

#[test]
fn refuses_a_folder_holding_something_else_unless_forced() {
    let src = tempfile::tempdir().unwrap();
    write_tiny_model(src.path(), 3).unwrap();
    let model = SentenceModel::load(src.path(), &LoadOptions::default()).unwrap();
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(dest.path().join("notes.txt"), "mine").unwrap();
    let err = save_model(&model, dest.path(), false, &[]).unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dest.path().join("notes.txt")).unwrap(),
        "mine"
    );
    // The source model folder itself (no trawl marker) is refused too.
    assert!(save_model(&model, src.path(), false, &[]).is_err());
    save_model(&model, dest.path(), true, &[]).unwrap();
    assert!(dest.path().join("model.safetensors").exists());
    assert!(!dest.path().join("notes.txt").exists());
}

#[test]
fn minilm_saved_folder_has_the_original_tensors() {
    let Some(dir) = trawl_train::testkit::locate_minilm() else {
        return;
    };
    let model = SentenceModel::load(&dir, &LoadOptions::default()).unwrap();
    let dest = tempfile::tempdir().unwrap().path().join("minilm-copy");
    save_model(&model, &dest, false, &[]).unwrap();
    let (a, b) = (
        header(&dir.join("model.safetensors")),
        header(&dest.join("model.safetensors")),
    );
    assert_eq!(
        a.len(),
        104,
        "101 trained + pooler (2) + int64 position_ids"
    );
    assert_eq!(a, b);
    let reloaded = SentenceModel::load(&dest, &LoadOptions::default()).unwrap();
    let texts = [
        "a query about cells",
        "Microstructural development of human newborn cerebral white matter",
    ];
    assert_eq!(
        reloaded.embed(&texts, 2).unwrap(),
        model.embed(&texts, 2).unwrap()
    );
}

#[test]
fn model_lookup_finds_folders_and_names_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), 1).unwrap();
    let name = dir.path().to_str().unwrap();
    assert_eq!(
        trawl_train::model::resolve_model_dir(name).unwrap(),
        dir.path()
    );
    let err = trawl_train::model::resolve_model_dir("surely-no-such-model-7f3a")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model `surely-no-such-model-7f3a` not found; looked in:"),
        "{err}"
    );
    assert!(err.contains("models/surely-no-such-model-7f3a"), "{err}");
    assert!(err.contains("scripts/get-model.sh"), "{err}");
}
