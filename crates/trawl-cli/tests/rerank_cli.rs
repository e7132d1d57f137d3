//! `--rerank` on `trawl beir`, `trawl search` and `trawl serve`, and `trawl rerank` over a run
//! file, with the tiny BERT cross-encoder of trawl-embed's fixtures on the sample BEIR folder:
//! reranking through the Retriever wrapper (beir) and over the BM25 run file (rerank) give the
//! same run; bad models get clear errors.

mod common;

use std::path::{Path, PathBuf};

use common::{err, ok, serve_with, trawl};
use serde_json::json;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> String {
    repo()
        .join("crates/trawl-embed/tests/fixtures/tiny-bert-cross-encoder")
        .to_string_lossy()
        .into_owned()
}

fn run_lines(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[2].to_string())
        })
        .collect()
}

#[test]
fn beir_rerank_equals_rerank_of_the_bm25_run_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = repo().join("data/sample");
    let data = data.to_str().unwrap();
    let kb = tmp.path().join("kb");
    let (bm25, reranked, from_file) = (
        tmp.path().join("bm25.trec"),
        tmp.path().join("beir-rerank.trec"),
        tmp.path().join("file-rerank.trec"),
    );
    let common_flags = ["--kb-dir", kb.to_str().unwrap(), "-k", "10"];
    ok(&trawl(
        &[
            &["beir", data, "--run-out", bm25.to_str().unwrap()][..],
            &common_flags,
        ]
        .concat(),
    ));
    let m = model();
    let out = ok(&trawl(
        &[
            &[
                "beir",
                data,
                "--run-out",
                reranked.to_str().unwrap(),
                "--rerank",
                &m,
                "--rerank-depth",
                "5",
            ][..],
            &common_flags,
        ]
        .concat(),
    ));
    assert!(out.contains("nDCG@10") || out.contains("ndcg"), "{out}");
    let out = ok(&trawl(&[
        "rerank",
        "--run",
        bm25.to_str().unwrap(),
        "--model",
        &m,
        "--data",
        data,
        "--rerank-depth",
        "5",
        "-k",
        "10",
        "--out",
        from_file.to_str().unwrap(),
    ]));
    assert!(out.contains("nDCG@10"), "{out}");
    let (a, b, c) = (
        run_lines(&reranked),
        run_lines(&from_file),
        run_lines(&bm25),
    );
    assert_eq!(a.len(), c.len());
    assert_eq!(b.len(), c.len());
    assert_ne!(a, c, "the tiny model must change BM25's order somewhere");
    // Past the depth, BM25's order is kept.
    let rank = |run: &[(String, String)], q: &str| -> Vec<String> {
        run.iter()
            .filter(|(qq, _)| qq == q)
            .map(|(_, d)| d.clone())
            .collect()
    };
    // BM25 ties may be ordered differently by the retriever (KB order) and by the run file
    // (trec_eval's order): the reranked heads agree exactly, the tails as sets.
    for q in ["q1", "q2", "q3", "q4", "q6", "q7", "q8"] {
        let (r, from_run) = (rank(&a, q), rank(&b, q));
        assert_eq!(
            r[..5],
            from_run[..5],
            "{q}: the wrapper and the run-file reranker agree"
        );
        let (mut t1, mut t2) = (r[5..].to_vec(), from_run[5..].to_vec());
        t1.sort();
        t2.sort();
        assert_eq!(t1, t2, "{q}");
    }
    for q in ["q1", "q2"] {
        let (r, f) = (rank(&a, q), rank(&c, q));
        assert_eq!(r[5..], f[5..], "{q}");
        let mut head = r[..5].to_vec();
        let mut first = f[..5].to_vec();
        head.sort();
        first.sort();
        assert_eq!(head, first, "{q}: the head is BM25's top 5, reordered");
    }
}

#[test]
fn search_and_serve_rerank_and_a_request_can_turn_it_off() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = tmp.path().join("kb");
    let corpus = repo().join("data/sample/corpus.jsonl");
    ok(&trawl(&[
        "kb",
        "build",
        corpus.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]));
    let m = model();
    let q = "how does bottom trawling damage the seabed";
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect()
    };
    let plain: serde_json::Value = serde_json::from_str(&ok(&trawl(&[
        "search",
        kb.to_str().unwrap(),
        q,
        "-k",
        "8",
        "--json",
    ])))
    .unwrap();
    let reranked: serde_json::Value = serde_json::from_str(&ok(&trawl(&[
        "search",
        kb.to_str().unwrap(),
        q,
        "-k",
        "8",
        "--json",
        "--rerank",
        &m,
        "--rerank-depth",
        "8",
    ])))
    .unwrap();
    let (p, r) = (ids(&plain), ids(&reranked));
    assert!(p.len() >= 5, "{p:?}");
    let (mut ps, mut rs) = (p.clone(), r.clone());
    ps.sort();
    rs.sort();
    assert_eq!(ps, rs, "depth 8 covers every hit: the same documents");
    assert_ne!(p, r, "reordered by the cross-encoder");

    let server = serve_with(&kb, &["--rerank", &m, "--rerank-depth", "8"]);
    let (s1, default) = server.post("/search", &json!({"query": q, "k": 8}));
    let (s2, off) = server.post("/search", &json!({"query": q, "k": 8, "rerank": false}));
    let (s3, on) = server.post(
        "/search",
        &json!({"query": q, "k": 8, "retriever": "bm25", "rerank": true}),
    );
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert_eq!(ids(&default), r, "the default retriever reranks");
    assert_eq!(ids(&on), r);
    assert_eq!(ids(&off), p, "rerank: false is BM25 alone");
}

#[test]
fn a_model_without_a_classification_head_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run.trec");
    std::fs::write(&run, "q1 Q0 fish-01 1 2.0 x\n").unwrap();
    let data = repo().join("data/sample");
    // all-MiniLM-L6-v2's layout without its weights is enough: config.json says BertModel.
    let fake = tmp.path().join("embedder");
    std::fs::create_dir(&fake).unwrap();
    let cfg = std::fs::read_to_string(Path::new(&model()).join("config.json"))
        .unwrap()
        .replace("BertForSequenceClassification", "BertModel");
    std::fs::write(fake.join("config.json"), cfg).unwrap();
    let e = err(&trawl(&[
        "rerank",
        "--run",
        run.to_str().unwrap(),
        "--model",
        fake.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        tmp.path().join("out.trec").to_str().unwrap(),
    ]));
    assert!(
        e.contains("BertModel")
            && e.contains("BertForSequenceClassification")
            && e.contains("XLMRobertaForSequenceClassification"),
        "{e}"
    );
    assert!(
        !tmp.path().join("out.trec").exists(),
        "no output on failure"
    );
}
