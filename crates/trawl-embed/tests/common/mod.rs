//! Shared by the tests that need real models (all-MiniLM-L6-v2, all-mpnet-base-v2) and those
//! that read the tiny fixtures' reference.json.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use trawl_embed::{Backend, EncoderOptions, SentenceEncoder};

/// The model folder: `$TRAWL_TEST_MODEL`, or `models/all-MiniLM-L6-v2` beside an ancestor of the
/// current directory. `None` means skip (reason printed); under `TRAWL_REQUIRE_MODEL=1` it panics.
pub fn model_dir() -> Option<PathBuf> {
    installed(
        "TRAWL_TEST_MODEL",
        "all-MiniLM-L6-v2",
        "scripts/get-model.sh",
        "TRAWL_REQUIRE_MODEL",
    )
}

/// all-mpnet-base-v2 (`scripts/get-model.sh mpnet`, 400 MB): opt-in, so CI skips it unless
/// `TRAWL_REQUIRE_MPNET=1`.
pub fn mpnet_dir() -> Option<PathBuf> {
    installed(
        "TRAWL_TEST_MPNET",
        "all-mpnet-base-v2",
        "scripts/get-model.sh mpnet",
        "TRAWL_REQUIRE_MPNET",
    )
}

/// `$var`, or `models/<name>` beside an ancestor of the current directory; `None` (reason
/// printed) when missing, a panic when missing under `<require>=1`.
fn installed(var: &str, name: &str, get: &str, require: &str) -> Option<PathBuf> {
    let found = std::env::var_os(var).map(PathBuf::from).or_else(|| {
        let cwd = std::env::current_dir().ok()?;
        cwd.ancestors()
            .map(|a| a.join("models").join(name))
            .find(|p| p.join("config.json").exists())
    });
    if found.is_none() {
        let msg = format!("{name} not installed (run {get} or set {var})");
        if std::env::var(require).as_deref() == Ok("1") {
            panic!("{msg}; {require}=1 forbids skipping");
        }
        eprintln!("skipped: {msg}");
    }
    found
}

pub struct Item {
    pub kind: String,
    pub text: String,
    pub embedding: Vec<f32>,
}

/// The items of a reference file written by scripts/make_reference_embeddings.py.
pub fn reference(file: &str) -> Vec<Item> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Item {
            kind: i["kind"].as_str().unwrap().to_string(),
            text: i["text"].as_str().unwrap().to_string(),
            embedding: vector(&i["embedding"]),
        })
        .collect()
}

/// A JSON array of numbers as f32.
pub fn vector(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// A JSON array of arrays of numbers (one embedding a row) as f32 rows.
pub fn vectors(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array().unwrap().iter().map(vector).collect()
}

/// Copies the folder `from` (with its subfolders) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// Encodes the reference texts of `file` with the model in `dir` and asserts cosine >= 0.9999 to
/// sentence-transformers' vectors; `expect` is (dim, max_seq_len, normalizes). Returns the worst cosine.
pub fn check_reference(
    dir: &Path,
    file: &str,
    backend: Backend,
    expect: (usize, usize, bool),
) -> f32 {
    let opts = EncoderOptions {
        backend,
        batch_size: 8,
        ..Default::default()
    };
    let enc = SentenceEncoder::load(dir.to_str().unwrap(), &opts).unwrap();
    assert_eq!((enc.dim(), enc.max_seq_len(), enc.normalizes()), expect);
    let items = reference(file);
    let texts = |kind: &str| {
        items
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.text.as_str())
            .collect::<Vec<_>>()
    };
    let passages = enc.encode_documents(&texts("passage")).unwrap();
    let queries = enc.encode_queries(&texts("query")).unwrap();
    let edges = enc.encode(&texts("edge")).unwrap();
    let ours: Vec<&[f32]> = passages
        .rows()
        .chain(queries.rows())
        .chain(edges.rows())
        .collect();
    assert_eq!(ours.len(), items.len());
    let mut worst = 1.0f32;
    for (item, got) in items.iter().zip(ours) {
        let c = cosine(got, &item.embedding);
        assert!(
            c >= 0.9999,
            "{backend:?}: cosine {c} < 0.9999 for {} {:?}",
            item.kind,
            &item.text[..item.text.len().min(60)]
        );
        worst = worst.min(c);
    }
    eprintln!(
        "{file} {backend:?}: min cosine vs sentence-transformers over {} texts: {worst:.7}",
        items.len()
    );
    worst
}
