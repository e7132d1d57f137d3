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
fn saved_mpnet_keeps_names_and_encodes_as_trained() {
    // trawl-embed's tiny random MPNet (sentence-transformers wrote it; it loads it unchanged).
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../trawl-embed/tests/fixtures/tiny-mpnet");
    let model = SentenceModel::load(&src, &LoadOptions::default()).unwrap();
    perturb(&model);
    let before = model.embed(TEXTS, 2).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("trained");
    save_model(&model, &dest, false, &[]).unwrap();
    // Every tensor of the source under its name, dtype and shape (relative bias included, no
    // token types invented): the folder a sentence-transformers MPNet loads.
    let names = header(&dest.join("model.safetensors"));
    assert_eq!(header(&src.join("model.safetensors")), names);
    assert!(names.contains_key("encoder.relative_attention_bias.weight"));
    // Inference (trawl-embed's fused forward) on the saved folder = the trained model.
    let enc = trawl_embed::SentenceEncoder::load(
        dest.to_str().unwrap(),
        &trawl_embed::EncoderOptions::default(),
    )
    .unwrap();
    let got = enc.encode(TEXTS).unwrap();
    for (i, want) in before.chunks(model.dim()).enumerate() {
        let diff = got
            .row(i)
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-5, "text {i}: max |diff| {diff:e}");
    }
    let original = SentenceModel::load(&src, &LoadOptions::default()).unwrap();
    assert_ne!(original.embed(TEXTS, 2).unwrap(), before);
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
fn refuses_a_folder_holding_something_else_even_when_forced() {
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
    // --force removes only what trawl wrote: a folder with files of its own is still refused.
    let err = save_model(&model, dest.path(), true, &[]).unwrap_err();
    assert!(err.to_string().contains("did not write"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dest.path().join("notes.txt")).unwrap(),
        "mine"
    );
    // The source model folder itself (no trawl marker) is refused too, forced or not.
    assert!(save_model(&model, src.path(), false, &[]).is_err());
    assert!(save_model(&model, src.path(), true, &[]).is_err());
    assert!(src.path().join("model.safetensors").exists());
    // A trawl folder with a file added by hand: refused, the file kept.
    let out = dest.path().join("trained");
    save_model(&model, &out, false, &[]).unwrap();
    std::fs::write(out.join("README.md"), "my notes").unwrap();
    let err = save_model(&model, &out, true, &[]).unwrap_err();
    assert!(err.to_string().contains("README.md"), "{err}");
    std::fs::remove_file(out.join("README.md")).unwrap();
    save_model(&model, &out, true, &[]).unwrap();
}

#[test]
fn a_second_writer_of_the_same_folder_is_refused() {
    let src = tempfile::tempdir().unwrap();
    write_tiny_model(src.path(), 3).unwrap();
    let model = SentenceModel::load(src.path(), &LoadOptions::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("trained");
    let held = trawl_store::DirLock::acquire(&dest).unwrap();
    let err = save_model(&model, &dest, false, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("PID {}", std::process::id())),
        "{err}"
    );
    drop(held);
    save_model(&model, &dest, false, &[]).unwrap();
}

/// Child side of the crash test: saves a `last/` checkpoint whose trainer state records the
/// generation. Ignored unless run by the parent (which sets the kill hook).
#[test]
#[ignore]
fn crash_child_save_checkpoint() {
    let Ok(run_dir) = std::env::var("CRASH_CHILD_RUN_DIR") else {
        return;
    };
    let src = std::env::var("CRASH_CHILD_MODEL").unwrap();
    let generation = std::env::var("CRASH_CHILD_GEN").unwrap();
    let model = SentenceModel::load(Path::new(&src), &LoadOptions::default()).unwrap();
    save_model(
        &model,
        &Path::new(&run_dir).join("last"),
        false,
        &[("trainer_state.json", generation.into_bytes())],
    )
    .unwrap();
}

fn save_in_child(
    run_dir: &Path,
    model: &Path,
    generation: &str,
    kill_at: Option<u32>,
    fallback: bool,
) -> bool {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash_child_save_checkpoint", "--ignored"])
        .env("CRASH_CHILD_RUN_DIR", run_dir)
        .env("CRASH_CHILD_MODEL", model)
        .env("CRASH_CHILD_GEN", generation)
        .env_remove(trawl_store::fault::KILL_AT_RENAME_ENV)
        .env_remove(trawl_store::fault::NO_EXCHANGE_ENV);
    if let Some(n) = kill_at {
        cmd.env(trawl_store::fault::KILL_AT_RENAME_ENV, n.to_string());
    }
    if fallback {
        cmd.env(trawl_store::fault::NO_EXCHANGE_ENV, "1");
    }
    cmd.output().unwrap().status.success()
}

#[test]
fn resume_finds_the_last_complete_checkpoint_after_a_kill_at_any_rename() {
    let src = tempfile::tempdir().unwrap();
    write_tiny_model(src.path(), 5).unwrap();
    for fallback in [false, true] {
        let mut kills = 0;
        for n in 1..=3 {
            let root = tempfile::tempdir().unwrap();
            let run_dir = root.path().join("run");
            assert!(save_in_child(
                &run_dir,
                src.path(),
                "step-10",
                None,
                fallback
            ));
            let finished = save_in_child(&run_dir, src.path(), "step-20", Some(n), fallback);
            kills += usize::from(!finished);
            let last = trawl_train::trainer::resume_point(&run_dir).unwrap_or_else(|| {
                panic!("kill at rename {n} (fallback {fallback}): no checkpoint")
            });
            let state = std::fs::read_to_string(last.join("trainer_state.json")).unwrap();
            assert!(state == "step-10" || state == "step-20", "{state}");
            if finished {
                assert_eq!(state, "step-20");
            }
            // The checkpoint is whole: the model loads.
            SentenceModel::load(&last, &LoadOptions::default()).unwrap();
            let hidden: Vec<String> = std::fs::read_dir(&run_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(hidden.is_empty(), "leftovers not cleaned: {hidden:?}");
        }
        assert_eq!(kills, if fallback { 2 } else { 1 }, "fallback {fallback}");
    }
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
