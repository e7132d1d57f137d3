//! `import_faiss`: a KB from a FAISS index written by faiss-cpu (fixtures from
//! bench/faiss_fixtures.py), its pickled id mapping and a corpus in another order. Searched by
//! vector through the KB, the imported index returns faiss-cpu's top-10 as doc ids.

use std::path::PathBuf;

use trawl_kb::{import_faiss, DenseMetric, FaissImportOptions, KnowledgeBase, SearchParams};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../trawl-vector/tests/data/faiss")
}

/// faiss-cpu's top-10 ids (as doc ids) and its knobs for a fixture.
fn expected(name: &str) -> (Vec<Vec<String>>, SearchParams) {
    let text = std::fs::read_to_string(data().join(format!("{name}.expected.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ids = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| format!("doc{:04}", x.as_i64().unwrap()))
                .collect()
        })
        .collect();
    let params = SearchParams {
        nprobe: v["nprobe"].as_u64().map(|x| x as usize),
        ef: v["ef"].as_u64().map(|x| x as usize),
        refine: None,
    };
    (ids, params)
}

fn import(name: &str, out: &std::path::Path) -> trawl_kb::FaissImportReport {
    let (_, report) = import_faiss(
        &data().join(format!("{name}.faiss")),
        &data().join("id_mapping.pkl"),
        &data().join("corpus.jsonl"),
        out,
        &FaissImportOptions::default(),
    )
    .unwrap();
    report
}

fn agreement(kb: &KnowledgeBase, index: Option<&str>, name: &str) -> f64 {
    let (want, params) = expected(name);
    let (queries, nq, _) = trawl_vector::npy::read_npy_f32(data().join("queries.npy")).unwrap();
    let got = kb.search_vectors(index, &queries, nq, 10, &params).unwrap();
    let same = got
        .iter()
        .zip(&want)
        .filter(|(g, w)| {
            let mut a: Vec<&str> = g.iter().map(|h| h.id.as_str()).collect();
            let mut b: Vec<&str> = w.iter().map(String::as_str).collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        })
        .count();
    same as f64 / nq as f64
}

#[test]
fn imported_indexes_answer_as_faiss_with_doc_ids() {
    let dir = tempfile::tempdir().unwrap();
    for (name, kind, ann) in [
        ("ivfpq_ip", "ivfpq", true),
        ("hnsw_l2", "hnsw", true),
        ("ivfflat_ip", "ivf", true),
        ("flat_ip", "flat", false),
    ] {
        let out = dir.path().join(name);
        let report = import(name, &out);
        assert_eq!(report.kind, kind);
        assert_eq!(report.num_docs, 600);
        assert_eq!(report.unmapped_docs, 0);
        assert_eq!(report.ann.is_some(), ann);
        assert_eq!(report.exact_vectors, kind != "ivfpq");
        // Reopened from disk (every file checksummed and mapped).
        let kb = KnowledgeBase::open(&out).unwrap();
        // Ordinals follow the mapping, not the corpus order (the corpus is reversed).
        assert_eq!(kb.id(0).unwrap(), "doc0000");
        assert_eq!(kb.document(5).unwrap().to_document().text, "p5");
        let index = report.ann.as_deref();
        let share = agreement(&kb, index, name);
        assert!(share >= 0.99, "{name}: {share}");
        if name == "hnsw_l2" {
            assert_eq!(
                kb.manifest().dense.as_ref().unwrap().metric,
                DenseMetric::L2
            );
            let src = kb.manifest().ann[0].source.clone().unwrap();
            assert_eq!(src, "faiss IHNf hnsw_l2.faiss");
        }
    }
}

#[test]
fn mismatched_mapping_and_missing_documents_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.json");
    std::fs::write(&ids, r#"["doc0000", "doc0001"]"#).unwrap();
    let e = import_faiss(
        &data().join("flat_ip.faiss"),
        &ids,
        &data().join("corpus.jsonl"),
        &dir.path().join("kb"),
        &FaissImportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("holds 2 ids") && e.contains("600 vectors"),
        "{e}"
    );
    // A corpus without some mapped documents.
    let corpus = dir.path().join("corpus.jsonl");
    let text = std::fs::read_to_string(data().join("corpus.jsonl")).unwrap();
    let short: String = text.lines().skip(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&corpus, short).unwrap();
    let e = import_faiss(
        &data().join("flat_ip.faiss"),
        &data().join("id_mapping.pkl"),
        &corpus,
        &dir.path().join("kb"),
        &FaissImportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("3 doc ids of the id mapping are not in the corpus"),
        "{e}"
    );
    assert!(!dir.path().join("kb").exists(), "no half-written KB");
    // The approximate index goes in before the KB appears: a bad index name leaves nothing,
    // not a KB without its index.
    let e = import_faiss(
        &data().join("hnsw_ip.faiss"),
        &data().join("id_mapping.pkl"),
        &data().join("corpus.jsonl"),
        &dir.path().join("kb"),
        &FaissImportOptions {
            name: "exact".into(),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("index name `exact`"), "{e}");
    assert!(!dir.path().join("kb").exists(), "no KB without its index");
}
