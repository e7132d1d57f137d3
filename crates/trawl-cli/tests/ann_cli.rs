//! `trawl kb index` and `trawl search --vectors / --index` through the real binary.

#![cfg(feature = "dense")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trawl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .expect("run trawl")
}

fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn model() -> Option<PathBuf> {
    let m = std::env::var_os("TRAWL_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        });
    if m.join("model.safetensors").is_file() {
        Some(m)
    } else {
        eprintln!(
            "skipped: {} missing (scripts/get-model.sh installs it)",
            m.display()
        );
        None
    }
}

#[test]
fn an_hnsw_index_is_added_without_re_encoding_and_searched_by_vectors_and_text() {
    let Some(model) = model() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let topics = [
        "cats", "dogs", "bees", "rivers", "stars", "bread", "chess", "trains",
    ];
    let corpus: String = (0..40)
        .map(|i| {
            let t = topics[i % topics.len()];
            format!("{{\"_id\": \"d{i}\", \"title\": \"{t}\", \"text\": \"A note number {i} about {t} and more {t}.\"}}\n")
        })
        .collect();
    let corpus_path = tmp.path().join("corpus.jsonl");
    std::fs::write(&corpus_path, corpus).unwrap();
    let kb = tmp.path().join("kb");
    let (kb_s, corpus_s, model_s) = (
        kb.to_str().unwrap(),
        corpus_path.to_str().unwrap(),
        model.to_str().unwrap(),
    );
    let o = trawl(&["kb", "build", corpus_s, "--out", kb_s, "--dense", model_s]);
    assert!(o.status.success(), "{}", out(&o).1);
    let o = trawl(&[
        "kb", "index", kb_s, "--type", "hnsw", "--name", "h", "--m", "8", "--seed", "3",
    ]);
    assert!(o.status.success(), "{}", out(&o).1);
    let o = trawl(&["kb", "index", kb_s, "--type", "ivf", "--nlist", "4"]);
    assert!(o.status.success(), "{}", out(&o).1);
    let info: serde_json::Value =
        serde_json::from_str(&out(&trawl(&["kb", "info", kb_s])).0).unwrap();
    assert_eq!(info["ann"][0]["name"], "h");
    assert_eq!(info["ann"][0]["params"]["type"], "hnsw");
    assert_eq!(info["ann"][0]["params"]["m"], 8);
    assert_eq!(info["ann"][1]["params"]["nlist"], 4);

    // The documents' own vectors as queries: each finds itself first.
    let docs_npy = tmp.path().join("d.npy");
    let o = trawl(&[
        "encode",
        model_s,
        corpus_s,
        "--out",
        docs_npy.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", out(&o).1);
    let mut answers = Vec::new();
    for index in ["exact", "h", "ivf"] {
        let o = trawl(&[
            "search",
            kb_s,
            "--vectors",
            docs_npy.to_str().unwrap(),
            "--index",
            index,
            "--ef",
            "64",
            "--nprobe",
            "4",
            "-k",
            "3",
            "--json",
        ]);
        assert!(o.status.success(), "{index}: {}", out(&o).1);
        let v: serde_json::Value = serde_json::from_str(&out(&o).0).unwrap();
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 40);
        // The batch's own search time, for benchmarks that must not count opening the KB.
        let secs = v["search_seconds"].as_f64().unwrap();
        assert!(
            (0.0..60.0).contains(&secs),
            "{index}: search_seconds {secs}"
        );
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r["hits"][0]["id"], format!("d{i}"), "{index}, row {i}");
        }
        answers.push(v);
    }
    // Probing every IVF list is exact.
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r["hits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["id"].as_str().unwrap().to_string())
            })
            .collect()
    };
    assert_eq!(ids(&answers[0]), ids(&answers[2]));

    // A text query through the approximate index.
    let o = trawl(&[
        "search",
        kb_s,
        "honey bees",
        "--retriever",
        "dense",
        "--index",
        "h",
        "--json",
        "-k",
        "1",
    ]);
    assert!(o.status.success(), "{}", out(&o).1);
    assert!(out(&o).0.contains("bees"), "{}", out(&o).0);

    let cli_ids: Vec<String> = serde_json::from_str::<serde_json::Value>(&out(&o).0).unwrap()
        ["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();

    // Over HTTP, each request picks the index and its knobs: the same answers as the CLI.
    let srv = common::serve(&kb);
    let (s, v) = srv.post(
        "/search",
        &serde_json::json!({"query": "honey bees", "retriever": "dense", "index": "h", "ef": 64, "k": 1}),
    );
    assert_eq!(s, 200, "{v}");
    let http_ids: Vec<String> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(http_ids, cli_ids);
    let reward = |extra: serde_json::Value| {
        let mut body = serde_json::json!({
            "items": [{"queries": ["honey bees", "stars at night"], "relevant": ["d2", "d10"]}],
            "retriever": "dense", "k": 10});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        srv.post("/reward", &body)
    };
    let (s, exact) = reward(serde_json::json!({}));
    assert_eq!(s, 200, "{exact}");
    // Probing all 4 IVF lists is exact search.
    let (s, ivf) = reward(serde_json::json!({"index": "ivf", "nprobe": 4}));
    assert_eq!(s, 200, "{ivf}");
    assert_eq!(exact["results"][0]["doc_ids"], ivf["results"][0]["doc_ids"]);
    assert_eq!(exact["results"][0]["reward"], ivf["results"][0]["reward"]);
    assert!(
        exact["results"][0]["reward"].as_f64().unwrap() > 0.0,
        "{exact}"
    );
    let (s, bad) = reward(serde_json::json!({"index": "nope"}));
    assert_eq!((s, bad["field"].as_str()), (400, Some("index")), "{bad}");
    drop(srv);

    // `kb build --dense M --index hnsw` builds the same index in the same run: same bytes.
    let kb2 = tmp.path().join("kb2");
    let o = trawl(&[
        "kb",
        "build",
        corpus_s,
        "--out",
        kb2.to_str().unwrap(),
        "--dense",
        model_s,
        "--index",
        "hnsw",
        "--name",
        "h",
        "--m",
        "8",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", out(&o).1);
    assert!(out(&o).0.contains("hnsw index `h`"), "{}", out(&o).0);
    for f in trawl_vector::HNSW_FILES {
        assert_eq!(
            std::fs::read(kb.join("ann/h").join(f)).unwrap(),
            std::fs::read(kb2.join("ann/h").join(f)).unwrap(),
            "{f}"
        );
    }
    let o = trawl(&["kb", "build", corpus_s, "--out", "x", "--index", "hnsw"]);
    assert!(out(&o).1.contains("--dense"), "{}", out(&o).1);

    // Bad input: unknown index, wrong dimension, PQ without m.
    let o = trawl(&[
        "search",
        kb_s,
        "--vectors",
        docs_npy.to_str().unwrap(),
        "--index",
        "nope",
    ]);
    assert!(!o.status.success());
    assert!(
        out(&o).1.contains("no vector index named `nope`"),
        "{}",
        out(&o).1
    );
    let small = tmp.path().join("small.npy");
    trawl_vector::npy::write_npy(&small, &[1.0, 0.0, 0.0], 1, 3, trawl_vector::Precision::F32)
        .unwrap();
    let o = trawl(&[
        "search",
        kb_s,
        "--vectors",
        small.to_str().unwrap(),
        "--index",
        "h",
    ]);
    assert!(
        out(&o).1.contains("dimension 3") && out(&o).1.contains("384"),
        "{}",
        out(&o).1
    );
    let o = trawl(&["kb", "index", kb_s, "--type", "ivfpq"]);
    assert!(out(&o).1.contains("needs --m"), "{}", out(&o).1);
}
