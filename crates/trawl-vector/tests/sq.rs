//! Scalar quantisation (sq8, FAISS QT_8bit) and f16 storage for flat and HNSW indexes: recall
//! against exact flat search on real MiniLM vectors, exact re-scoring (`refine`), persistence,
//! determinism and bad input.

mod common;

use common::{clustered, recall, scifact_vectors};
use trawl_vector::{
    Error, FlatIndex, Hit, HnswIndex, HnswParams, Metric, Precision, Refined, SearchParams,
    VectorIndex,
};

fn refine(r: usize) -> SearchParams {
    SearchParams {
        refine: Some(r),
        ..Default::default()
    }
}

fn ef(ef: usize) -> SearchParams {
    SearchParams {
        ef: Some(ef),
        ..Default::default()
    }
}

fn hnsw(docs: &[f32], dim: usize, metric: Metric, storage: Precision) -> HnswIndex {
    let p = HnswParams {
        m: 16,
        ef_construction: 100,
        ef_search: 64,
        seed: 5,
    };
    HnswIndex::build(docs, dim, metric, p)
        .unwrap()
        .with_storage(storage)
        .unwrap()
}

/// Refined hits equal the exact ones: same ids in the same order, scores within float noise
/// (the exact scan and the re-scoring run the same kernel on different block shapes).
fn assert_exact(truth: &[Vec<Hit>], got: &[Vec<Hit>], what: &str) {
    let mut same_ids = 0;
    for (t, g) in truth.iter().zip(got) {
        assert_eq!(t.len(), g.len(), "{what}");
        for (a, b) in t.iter().zip(g) {
            assert!(
                (a.score - b.score).abs() <= 1e-5,
                "{what}: exact score {} vs refined {}",
                a.score,
                b.score
            );
        }
        same_ids += (t.iter().map(|h| h.doc).collect::<Vec<_>>()
            == g.iter().map(|h| h.doc).collect::<Vec<_>>()) as usize;
    }
    // Ids may only differ where two documents tie within float noise (checked above).
    assert!(
        same_ids as f64 >= 0.995 * truth.len() as f64,
        "{what}: {same_ids} of {} queries have the exact ids",
        truth.len()
    );
}

#[test]
fn sq8_flat_on_scifact_minilm_vectors_keeps_recall_and_refine_100_recovers_the_exact_top_10() {
    let Some((docs, queries, dim)) = scifact_vectors() else {
        return;
    };
    let nq = queries.len() / dim;
    let flat = FlatIndex::build(&docs, dim, Metric::InnerProduct, Precision::F32).unwrap();
    let truth = flat.search_batch(&queries, nq, 10).unwrap();
    let sq = FlatIndex::build(&docs, dim, Metric::InnerProduct, Precision::Sq8).unwrap();
    assert_eq!(sq.kind(), "sq8");
    assert_eq!(sq.memory_bytes(), docs.len() + 8 * dim);
    let got = sq.search_batch(&queries, nq, 10).unwrap();
    let r = recall(&truth, &got);
    // faiss-cpu IndexScalarQuantizer(QT_8bit) measures 0.9943 on these vectors (bench/sq.sh),
    // and so does trawl (same ranges, same codes). The bar leaves 0.01 below FAISS's figure for
    // vectors encoded on another CPU (trawl encode vs sentence-transformers round differently).
    eprintln!("sq8 flat recall@10 on scifact MiniLM: {r:.4}");
    assert!(r >= 0.984, "sq8 recall@10 {r}");
    let refined = Refined {
        index: &sq,
        full: &flat,
    }
    .search_batch_with(&queries, nq, 10, &refine(100))
    .unwrap();
    assert_exact(&truth, &refined, "sq8 flat + refine 100");
}

#[test]
fn hnsw_over_f16_and_sq8_on_scifact_minilm_vectors_keeps_recall_and_refine_restores_exact() {
    let Some((docs, queries, dim)) = scifact_vectors() else {
        return;
    };
    let nq = queries.len() / dim;
    let flat = FlatIndex::build(&docs, dim, Metric::InnerProduct, Precision::F32).unwrap();
    let truth = flat.search_batch(&queries, nq, 10).unwrap();
    let f32_index = hnsw(&docs, dim, Metric::InnerProduct, Precision::F32);
    let r32 = recall(
        &truth,
        &f32_index
            .search_batch_with(&queries, nq, 10, &ef(256))
            .unwrap(),
    );
    let mem32 = f32_index.memory_bytes();
    for storage in [Precision::F16, Precision::Sq8] {
        let ix = f32_index_clone(&docs, dim, storage);
        assert_eq!(ix.storage(), storage);
        let got = ix.search_batch_with(&queries, nq, 10, &ef(256)).unwrap();
        let r = recall(&truth, &got);
        eprintln!(
            "hnsw {}: recall@10 at ef 256 {r:.4} (f32 {r32:.4}), memory {} vs {mem32} bytes",
            storage.name(),
            ix.memory_bytes()
        );
        // f16 rounds to 11 significant bits: the ranking barely moves. sq8 loses what the
        // flat sq8 scan loses (see above) on top of the graph's misses.
        let bar = if storage == Precision::F16 {
            r32 - 0.005
        } else {
            r32 - 0.03
        };
        assert!(r >= bar, "{}: recall@10 {r}, f32 {r32}", storage.name());
        assert!(ix.memory_bytes() < mem32);
        let p = SearchParams {
            ef: Some(256),
            refine: Some(100),
            ..Default::default()
        };
        let refined = Refined {
            index: &ix,
            full: &flat,
        }
        .search_batch_with(&queries, nq, 10, &p)
        .unwrap();
        let rr = recall(&truth, &refined);
        assert!(rr >= r32 - 0.002, "{} refined recall {rr}", storage.name());
        // Every refined score is the exact score of its document.
        for (q, hits) in queries.chunks_exact(dim).zip(&refined) {
            let docs_of: Vec<u32> = hits.iter().map(|h| h.doc).collect();
            let mut want = Vec::new();
            flat.scores_of(q, &docs_of, &mut want).unwrap();
            for (h, w) in hits.iter().zip(&want) {
                assert_eq!(h.score, *w);
            }
        }
    }
}

fn f32_index_clone(docs: &[f32], dim: usize, storage: Precision) -> HnswIndex {
    hnsw(docs, dim, Metric::InnerProduct, storage)
}

#[test]
fn sq8_flat_recall_on_clustered_vectors_for_every_metric() {
    let dim = 48;
    let docs = clustered(3000, dim, 30, 21);
    let queries = clustered(100, dim, 30, 22);
    for metric in [Metric::InnerProduct, Metric::Cosine, Metric::L2] {
        let flat = FlatIndex::build(&docs, dim, metric, Precision::F32).unwrap();
        let truth = flat.search_batch(&queries, 100, 10).unwrap();
        let sq = FlatIndex::build(&docs, dim, metric, Precision::Sq8).unwrap();
        let r = recall(&truth, &sq.search_batch(&queries, 100, 10).unwrap());
        assert!(r >= 0.9, "{metric:?}: sq8 recall@10 {r}");
        let refined = Refined {
            index: &sq,
            full: &flat,
        }
        .search_batch_with(&queries, 100, 10, &refine(100))
        .unwrap();
        assert_exact(&truth, &refined, &format!("{metric:?}"));
        for storage in [Precision::F16, Precision::Sq8] {
            let h = hnsw(&docs, dim, metric, storage);
            let got = h.search_batch_with(&queries, 100, 10, &ef(128)).unwrap();
            let r = recall(&truth, &got);
            assert!(r >= 0.85, "{metric:?} hnsw {}: recall {r}", storage.name());
        }
    }
    // Without refine, Refined answers as its index.
    let flat = FlatIndex::build(&docs, dim, Metric::InnerProduct, Precision::F32).unwrap();
    let sq = FlatIndex::build(&docs, dim, Metric::InnerProduct, Precision::Sq8).unwrap();
    let plain = sq.search_batch(&queries, 100, 10).unwrap();
    let through = Refined {
        index: &sq,
        full: &flat,
    }
    .search_batch_with(&queries, 100, 10, &SearchParams::default())
    .unwrap();
    assert_eq!(plain, through);
}

#[test]
fn reopened_sq8_and_f16_indexes_answer_identically_and_the_same_seed_gives_the_same_bytes() {
    let dim = 40;
    let docs = clustered(1500, dim, 20, 31);
    let queries = clustered(40, dim, 20, 32);
    let tmp = tempfile::tempdir().unwrap();

    let sq = FlatIndex::build(&docs, dim, Metric::Cosine, Precision::Sq8).unwrap();
    sq.save(tmp.path().join("flat-a")).unwrap();
    FlatIndex::build(&docs, dim, Metric::Cosine, Precision::Sq8)
        .unwrap()
        .save(tmp.path().join("flat-b"))
        .unwrap();
    let reopened = FlatIndex::open(tmp.path().join("flat-a")).unwrap();
    assert_eq!(reopened.precision(), Precision::Sq8);
    assert_eq!(
        sq.search_batch(&queries, 40, 10).unwrap(),
        reopened.search_batch(&queries, 40, 10).unwrap()
    );
    assert_eq!(sq.vector(7), reopened.vector(7));
    let read = |d: &str| std::fs::read(tmp.path().join(d).join(trawl_vector::FILE_NAME)).unwrap();
    assert_eq!(read("flat-a"), read("flat-b"));

    for storage in [Precision::F16, Precision::Sq8] {
        let a = hnsw(&docs, dim, Metric::InnerProduct, storage);
        let b = hnsw(&docs, dim, Metric::InnerProduct, storage);
        let (da, db) = (
            tmp.path().join(format!("h-{}-a", storage.name())),
            tmp.path().join(format!("h-{}-b", storage.name())),
        );
        a.save(&da).unwrap();
        b.save(&db).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&da)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert!(names
            .iter()
            .any(|n| n == &format!("vectors.{}", storage.name())));
        assert!(!names.iter().any(|n| n == "vectors.f32"));
        for n in &names {
            assert_eq!(
                std::fs::read(da.join(n)).unwrap(),
                std::fs::read(db.join(n)).unwrap(),
                "{n} differs between two builds with the same seed"
            );
        }
        let back = HnswIndex::open(&da).unwrap();
        assert_eq!(back.storage(), storage);
        assert_eq!(back.memory_bytes(), a.memory_bytes());
        assert_eq!(
            a.search_batch_with(&queries, 40, 10, &ef(64)).unwrap(),
            back.search_batch_with(&queries, 40, 10, &ef(64)).unwrap()
        );
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let dim = 8;
    let docs = clustered(200, dim, 4, 41);
    // Adding to an untrained sq8 index.
    let mut untrained = FlatIndex::new(dim, Metric::InnerProduct, Precision::Sq8).unwrap();
    let e = untrained.add(&docs).unwrap_err().to_string();
    assert!(e.contains("trained"), "{e}");
    // Training on rows of the wrong width, or after vectors were added.
    assert!(untrained.train(&docs[..dim + 3]).is_err());
    let mut sq = FlatIndex::build(&docs, dim, Metric::InnerProduct, Precision::Sq8).unwrap();
    assert!(sq.train(&docs).is_err());
    // Query dimension mismatch names both numbers.
    match sq.search(&[0.0; 5], 3) {
        Err(Error::WrongVectorDimension { expected, received }) => {
            assert_eq!((expected, received), (8, 5))
        }
        other => panic!("{other:?}"),
    }
    let h = hnsw(&docs, dim, Metric::InnerProduct, Precision::Sq8);
    assert!(matches!(
        h.search_batch_with(&[0.0; 9], 1, 3, &ef(10)),
        Err(Error::WrongVectorDimension { .. })
    ));
    // A compressed HNSW index does not convert again.
    let e = h.with_storage(Precision::F16).unwrap_err().to_string();
    assert!(e.contains("f32"), "{e}");
    // Refine against full vectors of another shape.
    let other = FlatIndex::build(
        &docs[..100 * dim],
        dim,
        Metric::InnerProduct,
        Precision::F32,
    )
    .unwrap();
    let e = Refined {
        index: &sq,
        full: &other,
    }
    .search_batch_with(&docs[..dim], 1, 3, &refine(10))
    .unwrap_err()
    .to_string();
    assert!(e.contains("100") && e.contains("200"), "{e}");
    // Non-finite training values.
    let mut bad = docs.clone();
    bad[3] = f32::NAN;
    assert!(FlatIndex::build(&bad, dim, Metric::InnerProduct, Precision::Sq8).is_err());
    // An untrained sq8 index has nothing to save.
    let tmp = tempfile::tempdir().unwrap();
    let empty = FlatIndex::new(dim, Metric::InnerProduct, Precision::Sq8).unwrap();
    assert!(empty.save(tmp.path().join("e")).is_err());
    // Corrupted and truncated files are refused, never searched.
    sq.add(&docs[..dim]).unwrap();
    sq.save(tmp.path().join("f")).unwrap();
    let path = tmp.path().join("f").join(trawl_vector::FILE_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[64 + 3] ^= 0x40; // inside the ranges
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        FlatIndex::open(tmp.path().join("f")),
        Err(Error::Corrupt { .. })
    ));
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        FlatIndex::open(tmp.path().join("f")),
        Err(Error::Corrupt { .. })
    ));
    let hd = tmp.path().join("h");
    hnsw(&docs, dim, Metric::InnerProduct, Precision::Sq8)
        .save(&hd)
        .unwrap();
    let rp = hd.join("sq8.ranges");
    let mut rb = std::fs::read(&rp).unwrap();
    rb[2] ^= 1;
    std::fs::write(&rp, &rb).unwrap();
    assert!(HnswIndex::open(&hd).is_err());
    std::fs::remove_file(&rp).unwrap();
    assert!(HnswIndex::open(&hd).is_err());
}
