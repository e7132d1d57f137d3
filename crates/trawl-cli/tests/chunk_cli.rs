//! `trawl chunk`, `kb build --chunk`, `search --collapse max` and `beir --chunk` through the
//! real binary.

use std::path::Path;

mod common;
use common::{err, ok, trawl};

/// Long documents of 1,000 filler words; document `long<i>` holds the rare word `needle<i>` once
/// (word 320: chunk 6 at 50 words a chunk).
fn long_corpus(path: &Path) {
    let mut out = String::new();
    for d in 0..6 {
        let mut words: Vec<String> = (0..500)
            .map(|w| format!("filler{} common", (w * 7 + d) % 97))
            .collect();
        words[160] = format!("needle{d} common");
        let text = words.join(" ");
        out.push_str(
            &serde_json::json!({"_id": format!("long{d}"), "title": format!("Long {d}"), "text": text})
                .to_string(),
        );
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn chunk_writes_stable_ids_offsets_that_slice_the_parent() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs.jsonl");
    long_corpus(&docs);
    let out = tmp.path().join("chunks.jsonl");
    let args = [
        "chunk",
        docs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-words",
        "100",
        "--overlap",
        "20",
    ];
    let printed = ok(&trawl(&args));
    assert!(printed.contains("chunks of 6 documents"), "{printed}");
    let first = std::fs::read_to_string(&out).unwrap();
    ok(&trawl(&args));
    assert_eq!(
        first,
        std::fs::read_to_string(&out).unwrap(),
        "same chunks on every run"
    );
    let parents: Vec<serde_json::Value> = std::fs::read_to_string(&docs)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let chunks: Vec<serde_json::Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(chunks.len() > 6);
    for c in &chunks {
        let parent = parents.iter().find(|p| p["_id"] == c["parent_id"]).unwrap();
        let n = c["chunk"].as_u64().unwrap();
        assert_eq!(
            c["_id"],
            format!("{}#{n}", c["parent_id"].as_str().unwrap())
        );
        assert_eq!(c["title"], parent["title"]);
        let text: Vec<char> = parent["text"].as_str().unwrap().chars().collect();
        let (s, e) = (
            c["char_start"].as_u64().unwrap() as usize,
            c["char_end"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            text[s..e].iter().collect::<String>(),
            c["text"].as_str().unwrap()
        );
        assert!(c["text"].as_str().unwrap().split_whitespace().count() <= 100);
    }
}

#[test]
fn a_parent_is_found_when_only_one_of_its_chunks_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs.jsonl");
    long_corpus(&docs);
    let kb = tmp.path().join("kb");
    let kb = kb.to_str().unwrap();
    let built = ok(&trawl(&[
        "kb",
        "build",
        docs.to_str().unwrap(),
        "--out",
        kb,
        "--chunk",
        "--max-words",
        "50",
    ]));
    assert!(built.contains("chunks of 6 documents"), "{built}");
    let info: serde_json::Value = serde_json::from_str(&ok(&trawl(&["kb", "info", kb]))).unwrap();
    assert_eq!(info["chunks"]["num_parents"], 6);
    assert_eq!(info["chunks"]["size"], 50);
    assert_eq!(info["chunks"]["measure"], "words");

    let hits = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["search", kb, "needle3", "--json", "-k", "3"];
        args.extend_from_slice(extra);
        let v: serde_json::Value = serde_json::from_str(&ok(&trawl(&args))).unwrap();
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect()
    };
    // Word 320 lies in chunk 6 (words 300-349) of long3, and in no other chunk.
    assert_eq!(hits(&[]), ["long3#6"]);
    assert_eq!(hits(&["--collapse", "max"]), ["long3"]);
    // A common word matches every chunk; collapsed, each parent appears once.
    let v: serde_json::Value = serde_json::from_str(&ok(&trawl(&[
        "search",
        kb,
        "common filler5",
        "--json",
        "-k",
        "10",
        "--collapse",
        "max",
    ])))
    .unwrap();
    let ids: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(unique.len(), 6, "{ids:?}");
}

#[test]
fn bad_chunk_settings_and_empty_documents_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs.jsonl");
    std::fs::write(
        &docs,
        "{\"_id\": \"a\", \"text\": \"some words here\"}\n{\"_id\": \"b\", \"title\": \"t\", \"text\": \"  \"}\n",
    )
    .unwrap();
    let out = tmp.path().join("c.jsonl");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "chunk",
            docs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        trawl(&args)
    };
    let e = err(&run(&["--max-words", "0"]));
    assert!(e.contains("chunk size is 0"), "{e}");
    let e = err(&run(&["--max-words", "10", "--overlap", "10"]));
    assert!(
        e.contains("overlap (10 words) must be smaller than the chunk size (10 words)"),
        "{e}"
    );
    let e = err(&run(&[]));
    assert!(
        e.contains("docs.jsonl:2") && e.contains("\"b\" has no text to chunk"),
        "{e}"
    );
    assert!(!out.exists(), "no half-written output");
    let printed = ok(&run(&["--skip-empty"]));
    assert!(printed.contains("1 empty documents left out"), "{printed}");
    let kb = tmp.path().join("kb");
    let e = err(&trawl(&[
        "kb",
        "build",
        docs.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
        "--max-words",
        "5",
    ]));
    assert!(e.contains("need --chunk"), "{e}");
    let plain = tmp.path().join("plain");
    ok(&trawl(&[
        "kb",
        "build",
        out.to_str().unwrap(),
        "--out",
        plain.to_str().unwrap(),
    ]));
    let e = err(&trawl(&[
        "search",
        plain.to_str().unwrap(),
        "words",
        "--collapse",
        "max",
    ]));
    assert!(e.contains("is not chunked"), "{e}");
}

/// MaxP over a chunked scifact KB ranks documents as well as the unchunked KB (abstracts are
/// short, most are one chunk): nDCG@10 within 0.01, evaluated on document-level qrels.
#[test]
fn maxp_on_chunked_scifact_matches_the_unchunked_kb() {
    let Some(dir) = trawl_data::shared_data::locate("beir/scifact") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = |kb: &str, extra: &[&str]| -> serde_json::Value {
        let kb = tmp.path().join(kb);
        let mut args = vec![
            "beir",
            dir.to_str().unwrap(),
            "--json",
            "--kb-dir",
            kb.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&ok(&trawl(&args))).unwrap()
    };
    let plain = run("plain", &[]);
    let chunked = run(
        "chunked",
        &[
            "--chunk",
            "--max-words",
            "200",
            "--overlap",
            "50",
            "--by",
            "sentence",
        ],
    );
    let (a, b) = (
        plain["metrics"]["ndcg@10"].as_f64().unwrap(),
        chunked["metrics"]["ndcg@10"].as_f64().unwrap(),
    );
    eprintln!(
        "scifact BM25 nDCG@10: documents {a:.4}, chunks with MaxP {b:.4} ({} chunks)",
        chunked["num_docs"]
    );
    assert!(
        chunked["num_docs"].as_u64().unwrap() > 5183,
        "some abstracts are cut"
    );
    assert!((a - b).abs() <= 0.01, "documents {a}, MaxP {b}");
}

/// Rewards on a chunked KB judge documents: `trawl reward` and `POST /reward` rank parents by
/// their best chunk, and a parent found through different chunks by two rewrites counts once.
#[test]
fn rewards_on_a_chunked_kb_score_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let words = |prefix: &str, n: usize, at: &[(usize, &str)]| -> String {
        let mut w: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
        for &(i, word) in at {
            w[i] = word.to_string();
        }
        w.join(" ")
    };
    // p: `alpha` three times in chunk 0, `beta` three times in chunk 2 (50 words a chunk);
    // q and r: one chunk each, with `beta` / `alpha` once.
    let docs = [
        (
            "p",
            words(
                "pw",
                150,
                &[
                    (5, "alpha"),
                    (6, "alpha"),
                    (7, "alpha"),
                    (105, "beta"),
                    (106, "beta"),
                    (107, "beta"),
                ],
            ),
        ),
        ("q", words("qw", 50, &[(10, "beta")])),
        ("r", words("rw", 50, &[(10, "alpha")])),
    ];
    let corpus = tmp.path().join("docs.jsonl");
    let lines: Vec<String> = docs
        .iter()
        .map(|(id, text)| serde_json::json!({"_id": id, "text": text}).to_string())
        .collect();
    std::fs::write(&corpus, lines.join("\n")).unwrap();
    let kb = tmp.path().join("kb");
    let kb = kb.to_str().unwrap();
    ok(&trawl(&[
        "kb",
        "build",
        corpus.to_str().unwrap(),
        "--out",
        kb,
        "--chunk",
        "--max-words",
        "50",
        "--by",
        "word",
    ]));
    let labels = tmp.path().join("labels.json");
    std::fs::write(&labels, r#"{"u": ["p", "q"]}"#).unwrap();
    let data = tmp.path().join("rollouts.jsonl");
    std::fs::write(&data, r#"{"uid": "u", "rewrites": ["alpha", "beta"]}"#).unwrap();

    // "alpha" -> p (chunk 0), r; "beta" -> p (chunk 2), q. Union (RRF): p 2/61, q and r 1/62
    // (a tie trec_eval breaks by id, descending): p, r, q with p and q relevant.
    let idcg = 1.0 + 1.0 / 3f64.log2();
    let union = (1.0 + 1.0 / 4f64.log2()) / idcg;
    // Single: "alpha" ranks p, r (1 / idcg); "beta" p, q (1).
    let single = (1.0 / idcg + 1.0) / 2.0;
    for (mode, want) in [("union", union), ("single", single)] {
        let out = tmp.path().join(format!("{mode}.jsonl"));
        ok(&trawl(&[
            "reward",
            "--kb",
            kb,
            "--labels",
            labels.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--mode",
            mode,
            "--out",
            out.to_str().unwrap(),
        ]));
        let got = common::jsonl(&out)[0]["reward"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{mode}: {got} vs {want}");
    }

    // `trawl check`: the labelled documents are in the chunked KB, and (queried with "alpha"
    // from a parquet queries file) its reward is the document-level single-rewrite value.
    let queries = tmp.path().join("queries.parquet");
    let one = |v: &str| trawl_parquet::ColumnData::Utf8(vec![Some(v.to_string())]);
    trawl_parquet::write_table(
        &queries,
        &[
            trawl_parquet::Column {
                name: "_id".into(),
                data: one("u"),
            },
            trawl_parquet::Column {
                name: "text".into(),
                data: one("alpha"),
            },
        ],
    )
    .unwrap();
    let o = trawl(&[
        "check",
        kb,
        "--labels",
        labels.to_str().unwrap(),
        "--queries",
        queries.to_str().unwrap(),
        "--json",
    ]);
    // (One labelled uid: its "union / intersection" line needs two queries and fails.)
    let checked: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let line = |name: &str| {
        checked["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {checked}"))
            .clone()
    };
    assert_eq!(line("labelled docs in KB")["ok"], true, "{checked}");
    let detail = line("rewards bm25")["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains(&format!("{:.3}", 1.0 / idcg)),
        "{detail} vs {}",
        1.0 / idcg
    );

    let server = common::serve_with(Path::new(kb), &["--labels", labels.to_str().unwrap()]);
    let (status, v) = server.post(
        "/reward",
        &serde_json::json!({"items": [{"uid": "u", "queries": ["alpha", "beta"]}], "mode": "union"}),
    );
    assert_eq!(status, 200, "{v}");
    let r = &v["results"][0];
    assert_eq!(r["doc_ids"], serde_json::json!(["p", "r", "q"]), "{v}");
    assert!((r["reward"].as_f64().unwrap() - union).abs() < 1e-9, "{v}");
}
