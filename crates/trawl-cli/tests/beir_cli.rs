//! `trawl beir` through the real binary: a tiny generated dataset, and scifact when present.

use std::path::Path;
use std::process::{Command, Output};

fn trawl_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trawl"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run trawl")
}

fn trawl(args: &[&str]) -> Output {
    trawl_env(args, &[])
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// A BEIR folder: 6 docs, 3 test queries each with one relevant doc that BM25 ranks first.
fn tiny_beir(dir: &Path) {
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    std::fs::write(
        dir.join("corpus.jsonl"),
        r#"{"_id": "d1", "title": "Cats", "text": "Cats purr and chase mice."}
{"_id": "d2", "title": "Dogs", "text": "Dogs bark and fetch sticks."}
{"_id": "d3", "title": "Bees", "text": "Bees make honey and pollinate flowers."}
{"_id": "d4", "title": "Rivers", "text": "Rivers flow into the sea."}
{"_id": "d5", "title": "Volcanoes", "text": "Volcanoes erupt lava and ash."}
{"_id": "d6", "title": "Glaciers", "text": "Glaciers carve valleys slowly."}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("queries.jsonl"),
        r#"{"_id": "q1", "text": "why do cats purr"}
{"_id": "q2", "text": "honey bees"}
{"_id": "q3", "text": "lava eruption"}
{"_id": "q4", "text": "not judged in test"}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\nq3\td5\t2\n",
    )
    .unwrap();
}

#[test]
fn beir_json_reports_metrics_timings_and_reuses_its_cached_kb() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tiny");
    tiny_beir(&data);
    let d = data.to_str().unwrap();
    let run = tmp.path().join("run.trec");
    let v = json(&trawl(&[
        "beir",
        d,
        "--retriever",
        "bm25",
        "--json",
        "--run-out",
        run.to_str().unwrap(),
    ]));
    assert_eq!(v["dataset"], "tiny");
    assert_eq!(v["retriever"], "bm25");
    assert_eq!(v["split"], "test");
    assert_eq!(v["num_queries"], 3, "only queries judged in the split run");
    for m in ["ndcg@10", "recall@100", "mrr@10", "map@100"] {
        assert_eq!(
            v["metrics"][m], 1.0,
            "{m}: every relevant doc is ranked first"
        );
    }
    for t in ["index_s", "search_s", "queries_per_s"] {
        assert!(v["timings"][t].as_f64().unwrap() >= 0.0, "{t}");
    }
    assert_eq!(v["kb_reused"], false);
    let kb_dir = v["kb_dir"].as_str().unwrap().to_string();
    assert!(
        kb_dir.starts_with(&format!("{d}/.trawl/bm25-")),
        "cache beside a writable dataset: {kb_dir}"
    );

    let lines = std::fs::read_to_string(&run).unwrap();
    let first: Vec<&str> = lines.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first.len(), 6, "TREC run line: {first:?}");
    assert_eq!((first[1], first[3]), ("Q0", "1"));

    let again = json(&trawl(&["beir", d, "--json"]));
    assert_eq!(again["kb_reused"], true);
    assert_eq!(again["kb_dir"], kb_dir.as_str());
    assert_eq!(again["timings"]["index_s"], 0.0);
    assert_eq!(again["metrics"], v["metrics"]);

    // Other settings: another cache directory.
    let other = json(&trawl(&["beir", d, "--json", "--k1", "1.2"]));
    assert_ne!(other["kb_dir"], kb_dir.as_str());
    assert_eq!(other["kb_reused"], false);

    // An edited corpus is noticed through the corpus hash: rebuilt, not reused.
    let mut corpus = std::fs::read_to_string(data.join("corpus.jsonl")).unwrap();
    corpus.push_str("{\"_id\": \"d7\", \"title\": \"Cats again\", \"text\": \"More cats.\"}\n");
    std::fs::write(data.join("corpus.jsonl"), corpus).unwrap();
    let edited = json(&trawl(&["beir", d, "--json"]));
    assert_eq!(edited["kb_reused"], false);
    assert_eq!(edited["num_docs"], 7);
}

#[test]
fn beir_uses_the_user_cache_when_the_dataset_is_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ro");
    tiny_beir(&data);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    let cache = tmp.path().join("cache");
    let v = json(&trawl_env(
        &["beir", data.to_str().unwrap(), "--json"],
        &[("XDG_CACHE_HOME", &cache)],
    ));
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kb_dir = v["kb_dir"].as_str().unwrap();
    assert!(
        kb_dir.starts_with(cache.join("trawl/kb/ro-").to_str().unwrap()),
        "{kb_dir}"
    );
    assert!(!data.join(".trawl").exists());
}

#[test]
fn beir_table_output_and_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tiny");
    tiny_beir(&data);
    let kb = tmp.path().join("kb");
    let o = trawl(&[
        "beir",
        data.to_str().unwrap(),
        "--kb-dir",
        kb.to_str().unwrap(),
        "-k",
        "10",
    ]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in ["nDCG@10", "Recall@100", "queries/s", "index"] {
        assert!(
            out.to_lowercase().contains(&needle.to_lowercase()),
            "{needle} in:\n{out}"
        );
    }
    assert!(
        kb.join("manifest.json").is_file(),
        "--kb-dir is where the KB goes"
    );
    assert_eq!(
        trawl(&["beir", data.to_str().unwrap(), "--retriever", "sparse"])
            .status
            .code(),
        Some(2)
    );
    let o = trawl(&["beir", data.to_str().unwrap(), "--split", "dev"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("dev"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = trawl(&["beir", tmp.path().join("nope").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
}

/// Pyserini BM25 flat on scifact: nDCG@10 0.6789, Recall@100 0.9253 (BEIR leaderboard).
#[test]
fn beir_scifact_bm25_matches_pyserini() {
    let Some(dir) = trawl_data::shared_data::locate("beir/scifact") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let kb = tmp.path().join("kb");
    let v = json(&trawl(&[
        "beir",
        dir.to_str().unwrap(),
        "--retriever",
        "bm25",
        "--json",
        "--kb-dir",
        kb.to_str().unwrap(),
    ]));
    let ndcg = v["metrics"]["ndcg@10"].as_f64().unwrap();
    let recall = v["metrics"]["recall@100"].as_f64().unwrap();
    assert!((ndcg - 0.6789).abs() <= 0.005, "nDCG@10 {ndcg}");
    assert!((recall - 0.9253).abs() <= 0.01, "Recall@100 {recall}");
    assert_eq!(v["num_queries"], 300);
}

fn sample_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample")
}

/// The shipped sample: the printed metrics are what trawl-eval computes from the written run,
/// and the run is a well-formed TREC run over the corpus's ids.
#[test]
fn beir_on_the_sample_writes_the_run_it_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = tmp.path().join("kb");
    let run_path = tmp.path().join("sample.run");
    let sample = sample_dir();
    let v = json(&trawl(&[
        "beir",
        sample.to_str().unwrap(),
        "--json",
        "--kb-dir",
        kb.to_str().unwrap(),
        "--run-out",
        run_path.to_str().unwrap(),
    ]));
    let dataset = trawl_data::BeirDataset::open(&sample).unwrap();
    let qrels = dataset.read_qrels("test").unwrap();
    assert_eq!(
        v["num_queries"].as_u64().unwrap() as usize,
        qrels.num_queries()
    );
    let run = trawl_data::read_run(&run_path).unwrap();
    assert_eq!(run.num_queries(), qrels.num_queries());
    let ids: std::collections::HashSet<String> = dataset
        .read_corpus()
        .unwrap()
        .map(|d| d.unwrap().id)
        .collect();
    for (_, docs) in run.iter() {
        assert!(!docs.is_empty());
        assert!(
            docs.windows(2).all(|w| w[0].score >= w[1].score),
            "ranked by score"
        );
        assert!(docs.iter().all(|d| ids.contains(&d.doc_id)));
    }
    let names = ["ndcg@10", "recall@100", "mrr@10", "map@100"];
    let metrics: Vec<trawl_eval::Metric> = names.iter().map(|m| m.parse().unwrap()).collect();
    let eval =
        trawl_eval::evaluate(&qrels, &run, &metrics, &trawl_eval::EvalOptions::default()).unwrap();
    for (name, mean) in names.iter().zip(&eval.mean) {
        let printed = v["metrics"][name].as_f64().unwrap();
        assert!(
            (printed - mean).abs() < 1e-4,
            "{name}: printed {printed}, run file gives {mean}"
        );
    }
}

/// Dense and hybrid runs cache a KB with the model's vectors and reuse it.
#[cfg(feature = "dense")]
#[test]
fn beir_dense_and_hybrid_cache_vectors_and_rank_the_obvious_documents_first() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    if !model.join("model.safetensors").is_file() {
        eprintln!(
            "skipped: {} missing (scripts/get-model.sh installs it)",
            model.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tiny");
    tiny_beir(&data);
    let d = data.to_str().unwrap();
    let m = model.to_str().unwrap();
    let o = trawl(&["beir", d, "--retriever", "dense"]);
    assert_eq!(o.status.code(), Some(1), "dense without --model is refused");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--model"));
    let dense = json(&trawl(&[
        "beir",
        d,
        "--retriever",
        "dense",
        "--model",
        m,
        "--json",
    ]));
    assert_eq!(dense["retriever"], "dense");
    assert!(dense["kb_dir"].as_str().unwrap().contains("bm25-dense-"));
    assert!(
        dense["metrics"]["ndcg@10"].as_f64().unwrap() > 0.9,
        "{dense}"
    );
    let hybrid = json(&trawl(&[
        "beir",
        d,
        "--retriever",
        "hybrid",
        "--model",
        m,
        "--json",
    ]));
    assert_eq!(
        hybrid["kb_reused"], true,
        "the dense KB is shared by dense and hybrid runs"
    );
    assert_eq!(hybrid["kb_dir"], dense["kb_dir"]);
    assert!(
        hybrid["metrics"]["ndcg@10"].as_f64().unwrap() > 0.9,
        "{hybrid}"
    );
}
