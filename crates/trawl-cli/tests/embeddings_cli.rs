//! `trawl embeddings stats MODEL --corpus BEIR`: the statistics equal those of the matrix `trawl
//! encode` writes for the same corpus, alignment equals the mean squared distance of the qrels'
//! (query, relevant document) pairs computed here from the encoded queries and documents, a
//! seeded sample is reproducible, and an empty corpus or a bad sample size is a clear error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{err, model_dir, ok, trawl};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample")
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

fn unit_rows(npy: &Path) -> (Vec<Vec<f64>>, HashMap<String, usize>) {
    let (data, _, dim) = trawl_vector::npy::read_npy_f32(npy).unwrap();
    let rows = data
        .chunks_exact(dim)
        .map(|r| {
            let n = r.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
            r.iter().map(|v| f64::from(*v) / n).collect()
        })
        .collect();
    let ids = std::fs::read_to_string(npy.with_extension("ids.txt")).unwrap();
    let ids = ids
        .lines()
        .enumerate()
        .map(|(i, l)| (l.to_string(), i))
        .collect();
    (rows, ids)
}

fn close(a: &Value, b: &Value, tol: f64) -> bool {
    (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() <= tol
}

#[test]
fn corpus_stats_equal_the_encoded_matrix_and_alignment_the_qrels_pairs() {
    let Some(model) = model_dir() else { return };
    let model = model.to_str().unwrap();
    let data = sample_dir();
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stats.json");
    let got = json(&trawl(&[
        "embeddings",
        "stats",
        model,
        "--corpus",
        data,
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(
        got,
        serde_json::from_str::<Value>(&std::fs::read_to_string(&out).unwrap()).unwrap()
    );
    assert_eq!(got["format"], "trawl-embedding-stats");
    let stats = &got["stats"];
    assert_eq!(stats["num_vectors"], 40);

    // The same corpus through `trawl encode` and the .npy statistics.
    let docs = tmp.path().join("docs.npy");
    let queries = tmp.path().join("queries.npy");
    let docs_s = docs.to_str().unwrap();
    ok(&trawl(&["encode", model, data, "--out", docs_s]));
    ok(&trawl(&[
        "encode",
        model,
        data,
        "--queries",
        "--out",
        queries.to_str().unwrap(),
    ]));
    let npy = json(&trawl(&["embeddings", "stats", docs_s, "--json"]));
    for key in [
        "mean_pairwise_cosine",
        "effective_rank",
        "isoscore",
        "uniformity",
    ] {
        assert!(
            close(&stats[key], &npy["stats"][key], 1e-5),
            "{key}: {} vs {}",
            stats[key],
            npy["stats"][key]
        );
    }

    // Alignment by hand: mean ||q - d||^2 of unit vectors over the positive qrels pairs.
    let (d_rows, d_ids) = unit_rows(&docs);
    let (q_rows, q_ids) = unit_rows(&queries);
    let qrels = std::fs::read_to_string(sample_dir().join("qrels/test.tsv")).unwrap();
    let mut dists = Vec::new();
    for line in qrels.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f[2].parse::<i32>().unwrap() <= 0 {
            continue;
        }
        let (q, d) = (&q_rows[q_ids[f[0]]], &d_rows[d_ids[f[1]]]);
        dists.push(q.iter().zip(d).map(|(a, b)| (a - b) * (a - b)).sum::<f64>());
    }
    assert_eq!(got["positive_pairs"], dists.len());
    let want = dists.iter().sum::<f64>() / dists.len() as f64;
    let alignment = stats["alignment"].as_f64().unwrap();
    assert!((alignment - want).abs() < 1e-5, "{alignment} vs {want}");

    // A seeded sample: reproducible, its size, and the same pairs.
    let sampled = |seed: &str| {
        json(&trawl(&[
            "embeddings",
            "stats",
            model,
            "--corpus",
            data,
            "--sample",
            "12",
            "--seed",
            seed,
            "--json",
        ]))
    };
    let (a, b, c) = (sampled("3"), sampled("3"), sampled("4"));
    assert_eq!(a["stats"], b["stats"]);
    assert_ne!(a["stats"]["uniformity"], c["stats"]["uniformity"]);
    assert_eq!(a["stats"]["num_vectors"], 12);
    assert!(close(&a["stats"]["alignment"], &stats["alignment"], 1e-5));
}

#[test]
fn an_empty_corpus_a_bad_sample_or_an_npy_model_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("qrels")).unwrap();
    std::fs::write(empty.join("corpus.jsonl"), "").unwrap();
    std::fs::copy(
        sample_dir().join("queries.jsonl"),
        empty.join("queries.jsonl"),
    )
    .unwrap();
    std::fs::copy(
        sample_dir().join("qrels/test.tsv"),
        empty.join("qrels/test.tsv"),
    )
    .unwrap();
    let e = err(&trawl(&[
        "embeddings",
        "stats",
        "any-model",
        "--corpus",
        empty.to_str().unwrap(),
    ]));
    assert!(
        e.contains("the corpus has 0 document(s); embedding statistics need at least 2"),
        "{e}"
    );
    let data = sample_dir();
    let e = err(&trawl(&[
        "embeddings",
        "stats",
        "any-model",
        "--corpus",
        data.to_str().unwrap(),
        "--sample",
        "1",
    ]));
    assert!(e.contains("--sample must be at least 2, got 1"), "{e}");
    let e = err(&trawl(&[
        "embeddings",
        "stats",
        "x.npy",
        "--corpus",
        data.to_str().unwrap(),
    ]));
    assert!(e.contains("give a model folder or name, not x.npy"), "{e}");
    let e = err(&trawl(&["embeddings", "stats", "model", "--sample", "5"]));
    assert!(e.contains("--corpus"), "{e}");
}
