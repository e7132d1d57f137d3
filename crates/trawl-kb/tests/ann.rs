//! Approximate indexes in a KB: added from the stored vectors, listed in the manifest, reopened
//! with the same answers, selected by name; and the issue's quality bar on scifact.

use std::path::PathBuf;

use trawl_data::Document;
use trawl_kb::{AnnParams, DenseEmbeddings, KbBuildOptions, KnowledgeBase, SearchParams};

fn docs(n: usize) -> Vec<Document> {
    (0..n)
        .map(|i| Document {
            id: format!("d{i}"),
            title: String::new(),
            text: format!("document {i}"),
            metadata: Default::default(),
        })
        .collect()
}

/// Clustered unit vectors (a SplitMix-style hash, so the test needs no RNG crate).
fn vectors(n: usize, dim: usize, salt: u64) -> Vec<f32> {
    let h = |x: u64| {
        let mut z = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut out = Vec::with_capacity(n * dim);
    for i in 0..n {
        let c = (i % 10) as u64;
        let row: Vec<f32> = (0..dim)
            .map(|d| h(1_000_000 + c * 1000 + d as u64) + 0.4 * h((i * dim + d) as u64))
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(row.iter().map(|x| x / norm));
    }
    out
}

#[test]
fn ann_indexes_are_added_without_re_encoding_listed_reopened_and_selected_by_name() {
    let (n, dim) = (2000, 16);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kb");
    let options = KbBuildOptions {
        bm25: None,
        dense: Some(DenseEmbeddings::new(vectors(n, dim, 1), dim, "test-model")),
        ..Default::default()
    };
    let mut kb = KnowledgeBase::build(docs(n).into_iter().map(Ok), &dir, &options, |_| {}).unwrap();
    kb.add_ann(
        "hnsw",
        AnnParams::Hnsw {
            m: 8,
            ef_construction: 64,
            ef_search: 32,
            seed: 1,
            storage: Default::default(),
        },
    )
    .unwrap();
    kb.add_ann(
        "pq",
        AnnParams::IvfPq {
            nlist: 16,
            m: 4,
            nprobe: 4,
            train_size: None,
            seed: 2,
            refine_vectors: true,
        },
    )
    .unwrap();
    kb.add_ann(
        "ivf",
        AnnParams::Ivf {
            nlist: 20,
            nprobe: 20,
            train_size: None,
            seed: 3,
        },
    )
    .unwrap();
    let names: Vec<&str> = kb.manifest().ann.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["hnsw", "pq", "ivf"]);
    assert!(kb
        .manifest()
        .ann
        .iter()
        .all(|a| a.num_vectors == n as u64 && a.dim == dim));

    let queries = vectors(30, dim, 9);
    let p = SearchParams {
        ef: Some(64),
        nprobe: Some(8),
        refine: Some(50),
    };
    let exact = kb.search_vectors(None, &queries, 30, 10, &p).unwrap();
    let reopened = KnowledgeBase::open(&dir).unwrap();
    for name in ["hnsw", "pq", "ivf"] {
        let a = kb.search_vectors(Some(name), &queries, 30, 10, &p).unwrap();
        let b = reopened
            .search_vectors(Some(name), &queries, 30, 10, &p)
            .unwrap();
        assert_eq!(a, b, "{name}: reopened answers differ");
        assert_eq!(
            reopened.vector_index(Some(name)).unwrap().kind(),
            ["hnsw", "ivfpq", "ivf"][names.iter().position(|x| *x == name).unwrap()]
        );
    }
    // IVF-Flat probing every list is exact (same ids; scores up to summation order).
    let all = SearchParams {
        nprobe: Some(20),
        ..p
    };
    let ivf = kb
        .search_vectors(Some("ivf"), &queries, 30, 10, &all)
        .unwrap();
    for (a, e) in ivf.iter().zip(&exact) {
        let ids = |h: &[trawl_kb::KbHit]| h.iter().map(|x| x.ordinal).collect::<Vec<_>>();
        assert_eq!(ids(a), ids(e));
        assert!(a
            .iter()
            .zip(e)
            .all(|(x, y)| (x.score - y.score).abs() < 1e-5));
    }

    let err = kb
        .search_vectors(Some("nope"), &queries, 30, 10, &p)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no vector index named `nope`") && err.contains("hnsw, pq, ivf"),
        "{err}"
    );
    let err = kb
        .add_ann(
            "a/b",
            AnnParams::Ivf {
                nlist: 4,
                nprobe: 1,
                train_size: None,
                seed: 0,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("index name"), "{err}");
    let err = kb
        .add_ann(
            "big",
            AnnParams::Ivf {
                nlist: 5000,
                nprobe: 1,
                train_size: None,
                seed: 0,
            },
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("nlist 5000 is larger than the number of vectors 2000"),
        "{err}"
    );
    let err = kb
        .search_vectors(Some("hnsw"), &queries[..15], 1, 10, &p)
        .unwrap_err();
    assert!(
        err.to_string().contains("16") && err.to_string().contains("15"),
        "{err}"
    );

    // New vectors make the old approximate indexes stale: they are dropped.
    kb.add_dense(&DenseEmbeddings::new(vectors(n, dim, 5), dim, "other"))
        .unwrap();
    assert!(kb.manifest().ann.is_empty());
    assert!(KnowledgeBase::open(&dir).unwrap().manifest().ann.is_empty());
}

/// The issue's bar: nDCG@10 on scifact (test split) with HNSW at ef 128 within 0.005 of exact,
/// on the real MiniLM vectors cached by bench/ann_vectors.sh (skipped without them).
#[test]
fn scifact_hnsw_ef_128_ndcg_at_10_is_within_0_005_of_exact() {
    let vdir = std::env::var_os("TRAWL_ANN_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/ann-vectors"
            ))
        });
    let Some(data) = trawl_data::shared_data::locate("beir/scifact") else {
        eprintln!("skipped: no BEIR scifact");
        return;
    };
    if !vdir.join("scifact-docs.npy").exists() {
        assert_ne!(
            std::env::var("TRAWL_REQUIRE_SHARED").as_deref(),
            Ok("1"),
            "run bench/ann_vectors.sh"
        );
        eprintln!("skipped: no scifact vectors in {}", vdir.display());
        return;
    }
    let (dv, n, dim) = trawl_vector::npy::read_npy_f32(vdir.join("scifact-docs.npy")).unwrap();
    let (qv, _, _) = trawl_vector::npy::read_npy_f32(vdir.join("scifact-queries.npy")).unwrap();
    let read_ids = |f: &str| -> Vec<String> {
        std::fs::read_to_string(vdir.join(f))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (doc_ids, query_ids) = (
        read_ids("scifact-docs.ids.txt"),
        read_ids("scifact-queries.ids.txt"),
    );
    let ds = trawl_data::beir::BeirDataset::open(&data).unwrap();
    let corpus: Vec<Document> = ds.read_corpus().unwrap().map(|d| d.unwrap()).collect();
    assert_eq!(corpus.len(), n);
    assert!(
        corpus.iter().zip(&doc_ids).all(|(d, id)| &d.id == id),
        "vectors are in corpus order"
    );
    let tmp = tempfile::tempdir().unwrap();
    let options = KbBuildOptions {
        bm25: None,
        dense: Some(DenseEmbeddings::new(dv, dim, "all-MiniLM-L6-v2")),
        ..Default::default()
    };
    let mut kb = KnowledgeBase::build(
        corpus.into_iter().map(Ok),
        tmp.path().join("kb"),
        &options,
        |_| {},
    )
    .unwrap();
    kb.add_ann(
        "hnsw",
        AnnParams::Hnsw {
            m: 16,
            ef_construction: 200,
            ef_search: 128,
            seed: 0,
            storage: Default::default(),
        },
    )
    .unwrap();

    let qrels = ds.read_qrels("test").unwrap();
    let mut qs = Vec::new();
    let mut ids = Vec::new();
    for (i, id) in query_ids.iter().enumerate() {
        if qrels.get(id).is_some() {
            qs.extend_from_slice(&qv[i * dim..(i + 1) * dim]);
            ids.push(id.clone());
        }
    }
    let ndcg = |index: Option<&str>| -> f64 {
        let p = SearchParams {
            ef: Some(128),
            ..Default::default()
        };
        let hits = kb.search_vectors(index, &qs, ids.len(), 100, &p).unwrap();
        let mut run = trawl_data::run::Run::new();
        for (q, row) in ids.iter().zip(&hits) {
            for h in row {
                run.push(q.clone(), h.id.clone(), h.score as f64);
            }
        }
        let metrics = vec!["ndcg@10".parse().unwrap()];
        trawl_eval::evaluate(&qrels, &run, &metrics, &trawl_eval::EvalOptions::default())
            .unwrap()
            .mean[0]
    };
    let (exact, hnsw) = (ndcg(None), ndcg(Some("hnsw")));
    eprintln!(
        "scifact nDCG@10 over {} queries: exact {exact:.4}, HNSW ef 128 {hnsw:.4}",
        ids.len()
    );
    assert_eq!(ids.len(), 300);
    assert!((exact - 0.6451).abs() < 0.003, "exact nDCG@10 {exact}");
    assert!(
        (exact - hnsw).abs() <= 0.005,
        "HNSW {hnsw} vs exact {exact}"
    );
}

/// `kb build --dense M --index ...`: an index added to a staged KB appears with it (one
/// generation, no later rewrite) and holds the same bytes as one added to the finished KB.
#[test]
fn an_index_added_before_commit_equals_one_added_after_and_comes_in_the_same_generation() {
    let (n, dim) = (500, 8);
    let tmp = tempfile::tempdir().unwrap();
    let options = KbBuildOptions {
        bm25: None,
        dense: Some(DenseEmbeddings::new(vectors(n, dim, 4), dim, "test-model")),
        ..Default::default()
    };
    let params = AnnParams::IvfPq {
        nlist: 8,
        m: 4,
        nprobe: 2,
        train_size: None,
        seed: 5,
        refine_vectors: true,
    };
    let staged_dir = tmp.path().join("staged");
    let mut staged =
        KnowledgeBase::build_staged(docs(n).into_iter().map(Ok), &staged_dir, &options, |_| {})
            .unwrap();
    let before = staged.kb().generation().to_string();
    staged.add_ann("pq", params).unwrap();
    // A bad name or a second index of another kind is checked like on a finished KB.
    assert!(staged.add_ann("exact", params).is_err());
    let a = staged.commit().unwrap();
    assert_eq!(a.generation(), before, "no extra generation");
    assert_eq!(a.manifest().ann.len(), 1);

    let later_dir = tmp.path().join("later");
    let mut b =
        KnowledgeBase::build(docs(n).into_iter().map(Ok), &later_dir, &options, |_| {}).unwrap();
    b.add_ann("pq", params).unwrap();
    assert_eq!(a.manifest().ann, b.manifest().ann);
    let files = |d: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<_> = std::fs::read_dir(d.join("ann/pq"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    };
    assert_eq!(
        files(&staged_dir),
        files(&later_dir),
        "same seed, same bytes"
    );
    let q = vectors(5, dim, 11);
    let p = SearchParams::default();
    assert_eq!(
        KnowledgeBase::open(&staged_dir)
            .unwrap()
            .search_vectors(Some("pq"), &q, 5, 10, &p)
            .unwrap(),
        b.search_vectors(Some("pq"), &q, 5, 10, &p).unwrap()
    );
}

#[test]
fn sq8_and_compressed_hnsw_in_a_kb_refine_from_the_kb_vectors_to_the_exact_answer() {
    use trawl_kb::VectorStorage;
    let (n, dim) = (1500, 24);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kb");
    let options = KbBuildOptions {
        bm25: None,
        dense: Some(DenseEmbeddings::new(vectors(n, dim, 4), dim, "test-model")),
        ..Default::default()
    };
    let mut kb = KnowledgeBase::build(docs(n).into_iter().map(Ok), &dir, &options, |_| {}).unwrap();
    kb.add_ann("sq8", AnnParams::Sq8).unwrap();
    for (name, storage) in [("h16", VectorStorage::F16), ("h8", VectorStorage::Sq8)] {
        let params = AnnParams::Hnsw {
            m: 8,
            ef_construction: 64,
            ef_search: 32,
            seed: 1,
            storage,
        };
        kb.add_ann(name, params).unwrap();
    }
    // The manifest records the storage (f32, the default, is left out of the JSON).
    let reopened = KnowledgeBase::open(&dir).unwrap();
    let json = serde_json::to_string(&reopened.manifest().ann).unwrap();
    assert!(
        json.contains(r#""type":"sq8""#)
            && json.contains(r#""storage":"f16""#)
            && json.contains(r#""storage":"sq8""#),
        "{json}"
    );
    assert_eq!(reopened.vector_index(Some("sq8")).unwrap().kind(), "sq8");
    let queries = vectors(25, dim, 11);
    let exact = kb
        .search_vectors(None, &queries, 25, 10, &SearchParams::default())
        .unwrap();
    let refine = SearchParams {
        ef: Some(200),
        refine: Some(200),
        ..Default::default()
    };
    for name in ["sq8", "h16", "h8"] {
        let plain = reopened
            .search_vectors(Some(name), &queries, 25, 10, &SearchParams::default())
            .unwrap();
        assert_eq!(
            plain,
            kb.search_vectors(Some(name), &queries, 25, 10, &SearchParams::default())
                .unwrap(),
            "{name}: reopened answers differ"
        );
        let refined = reopened
            .search_vectors(Some(name), &queries, 25, 10, &refine)
            .unwrap();
        for (r, e) in refined.iter().zip(&exact) {
            let ids = |h: &[trawl_kb::KbHit]| h.iter().map(|x| x.ordinal).collect::<Vec<_>>();
            assert_eq!(ids(r), ids(e), "{name} + refine");
            assert!(r
                .iter()
                .zip(e)
                .all(|(x, y)| (x.score - y.score).abs() <= 1e-5));
        }
    }
}
