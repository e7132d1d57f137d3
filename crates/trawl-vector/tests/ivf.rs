//! IVF-Flat and IVF-PQ: recall against exact flat search, the effect of nprobe and refine,
//! persistence, determinism and bad input.

mod common;

use common::{clustered, exact, recall};
use trawl_vector::{
    Error, IvfCodec, IvfIndex, IvfParams, Metric, SearchParams, VectorIndex, IVF_FILES,
};

const DIM: usize = 32;

fn probe(nprobe: usize, refine: Option<usize>) -> SearchParams {
    SearchParams {
        nprobe: Some(nprobe),
        refine,
        ..Default::default()
    }
}

#[test]
fn ivf_flat_is_exact_when_every_list_is_probed_and_recall_grows_with_nprobe() {
    let docs = clustered(3000, DIM, 30, 1);
    let queries = clustered(100, DIM, 30, 2);
    let truth = exact(&docs, DIM, &queries, 10);
    let p = IvfParams {
        nlist: 32,
        ..Default::default()
    };
    let index = IvfIndex::build(&docs, DIM, Metric::InnerProduct, p).unwrap();
    assert_eq!(index.kind(), "ivf");
    let all = index
        .search_batch_with(&queries, 100, 10, &probe(32, None))
        .unwrap();
    for (a, t) in all.iter().zip(&truth) {
        let ids: Vec<u32> = a.iter().map(|h| h.doc).collect();
        let want: Vec<u32> = t.iter().map(|h| h.doc).collect();
        assert_eq!(ids, want);
        for (x, y) in a.iter().zip(t) {
            assert!((x.score - y.score).abs() < 1e-5);
        }
    }
    let r1 = recall(
        &truth,
        &index
            .search_batch_with(&queries, 100, 10, &probe(1, None))
            .unwrap(),
    );
    let r8 = recall(
        &truth,
        &index
            .search_batch_with(&queries, 100, 10, &probe(8, None))
            .unwrap(),
    );
    eprintln!("ivf-flat recall@10: nprobe 1 {r1:.3}, nprobe 8 {r8:.3}");
    assert!(r1 < r8 && r8 > 0.9, "nprobe 1 {r1}, nprobe 8 {r8}");
}

#[test]
fn ivf_pq_recall_is_reasonable_and_refine_restores_exact_scores() {
    let docs = clustered(4000, DIM, 30, 3);
    let queries = clustered(100, DIM, 30, 4);
    let truth = exact(&docs, DIM, &queries, 10);
    let p = IvfParams {
        nlist: 16,
        codec: IvfCodec::Pq { m: 8 },
        keep_vectors: true,
        ..Default::default()
    };
    let index = IvfIndex::build(&docs, DIM, Metric::InnerProduct, p).unwrap();
    assert_eq!(index.kind(), "ivfpq");
    let plain = index
        .search_batch_with(&queries, 100, 10, &probe(16, None))
        .unwrap();
    let refined = index
        .search_batch_with(&queries, 100, 10, &probe(16, Some(100)))
        .unwrap();
    let (rp, rr) = (recall(&truth, &plain), recall(&truth, &refined));
    eprintln!("ivf-pq recall@10: codes only {rp:.3}, refine 100 {rr:.3}");
    assert!(rp > 0.5, "PQ recall {rp}");
    assert!(rr > 0.97 && rr > rp, "refined recall {rr}");
    // Refined scores are exact inner products.
    for (hits, q) in refined.iter().zip(queries.chunks(DIM)) {
        for h in hits {
            let d = &docs[h.doc as usize * DIM..(h.doc as usize + 1) * DIM];
            let s: f32 = d.iter().zip(q).map(|(a, b)| a * b).sum();
            assert!((s - h.score).abs() < 1e-5);
        }
    }
}

#[test]
fn reopened_ivf_indexes_answer_as_in_memory_and_same_seed_gives_same_bytes() {
    let docs = clustered(2000, DIM, 20, 5);
    let queries = clustered(40, DIM, 20, 6);
    let tmp = tempfile::tempdir().unwrap();
    for (name, codec) in [("flat", IvfCodec::Flat), ("pq", IvfCodec::Pq { m: 4 })] {
        let p = |seed| IvfParams {
            nlist: 20,
            codec,
            seed,
            keep_vectors: true,
            ..Default::default()
        };
        let a = IvfIndex::build(&docs, DIM, Metric::Cosine, p(9)).unwrap();
        let dir = |s: &str| tmp.path().join(format!("{name}-{s}"));
        a.save(dir("a")).unwrap();
        let opened = IvfIndex::open(dir("a")).unwrap();
        for np in [1, 4, 20] {
            let sp = probe(np, Some(30));
            assert_eq!(
                a.search_batch_with(&queries, 40, 10, &sp).unwrap(),
                opened.search_batch_with(&queries, 40, 10, &sp).unwrap()
            );
        }
        IvfIndex::build(&docs, DIM, Metric::Cosine, p(9))
            .unwrap()
            .save(dir("b"))
            .unwrap();
        IvfIndex::build(&docs, DIM, Metric::Cosine, p(10))
            .unwrap()
            .save(dir("c"))
            .unwrap();
        let bytes = |d: std::path::PathBuf| -> Vec<Option<Vec<u8>>> {
            IVF_FILES
                .iter()
                .map(|f| std::fs::read(d.join(f)).ok())
                .collect()
        };
        assert_eq!(
            bytes(dir("a")),
            bytes(dir("b")),
            "{name}: same seed, same bytes"
        );
        assert_ne!(
            bytes(dir("a")),
            bytes(dir("c")),
            "{name}: another seed, another index"
        );
    }
    let codes = tmp.path().join("pq-a").join("codes.u8");
    let mut b = std::fs::read(&codes).unwrap();
    b[0] ^= 1;
    std::fs::write(&codes, b).unwrap();
    let err = IvfIndex::open(tmp.path().join("pq-a")).unwrap_err();
    assert!(err.to_string().contains("codes.u8"), "{err}");
}

#[test]
fn bad_parameters_are_clear_errors_naming_the_numbers() {
    let docs = clustered(300, DIM, 5, 7);
    let build = |p: IvfParams| {
        IvfIndex::build(&docs, DIM, Metric::InnerProduct, p)
            .unwrap_err()
            .to_string()
    };
    let e = build(IvfParams {
        nlist: 301,
        ..Default::default()
    });
    assert!(e.contains("nlist 301") && e.contains("300"), "{e}");
    let e = build(IvfParams {
        nlist: 4,
        codec: IvfCodec::Pq { m: 5 },
        ..Default::default()
    });
    assert!(e.contains("m = 5") && e.contains("32"), "{e}");
    let e = build(IvfParams {
        nlist: 4,
        codec: IvfCodec::Pq { m: 4 },
        train_size: Some(200),
        ..Default::default()
    });
    assert!(e.contains("too few training vectors: 200"), "{e}");
    let e = build(IvfParams {
        nlist: 10,
        train_size: Some(5),
        ..Default::default()
    });
    assert!(e.contains("too few training vectors: 5"), "{e}");
    let index = IvfIndex::build(
        &docs,
        DIM,
        Metric::InnerProduct,
        IvfParams {
            nlist: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let err = index
        .search_batch_with(&[0.0; 3 * 16], 3, 10, &SearchParams::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongVectorDimension {
                expected: 32,
                received: 16
            }
        ),
        "{err}"
    );
    let pq = IvfIndex::build(
        &docs,
        DIM,
        Metric::InnerProduct,
        IvfParams {
            nlist: 4,
            codec: IvfCodec::Pq { m: 4 },
            ..Default::default()
        },
    )
    .unwrap();
    let err = pq
        .search_with(&docs[..DIM], 10, &probe(2, Some(20)))
        .unwrap_err();
    assert!(
        err.to_string().contains("refine needs the full vectors"),
        "{err}"
    );
}

/// IVF on the real scifact MiniLM embeddings (cached by bench/ann_vectors.sh).
#[test]
fn scifact_minilm_ivf_recall() {
    let Some((docs, queries, dim)) = common::scifact_vectors() else {
        return;
    };
    let nq = queries.len() / dim;
    let truth = exact(&docs, dim, &queries, 10);
    for (codec, np, bar) in [
        (IvfCodec::Flat, 16, 0.95),
        (IvfCodec::Pq { m: 48 }, 16, 0.6),
    ] {
        let p = IvfParams {
            nlist: 64,
            codec,
            ..Default::default()
        };
        let index = IvfIndex::build(&docs, dim, Metric::InnerProduct, p).unwrap();
        let r = recall(
            &truth,
            &index
                .search_batch_with(&queries, nq, 10, &probe(np, None))
                .unwrap(),
        );
        eprintln!("scifact {:?} nlist 64 nprobe {np}: recall@10 {r:.4}", codec);
        assert!(r >= bar, "{codec:?}: recall@10 {r} < {bar}");
    }
}

/// A batch large enough for the list-major scan returns, query for query, the hits of searching
/// each query alone (the per-query scan), bit for bit, for every metric; duplicated vectors
/// make ties, which must go to the lower ordinal either way.
#[test]
fn a_list_major_batch_equals_one_query_at_a_time_bit_for_bit() {
    let mut docs = clustered(2000, DIM, 20, 5);
    let copy = docs[..200 * DIM].to_vec();
    docs.extend_from_slice(&copy); // 200 exact duplicates: tied scores
    let n = 200;
    let queries = clustered(n, DIM, 20, 6);
    for metric in [Metric::InnerProduct, Metric::Cosine, Metric::L2] {
        let p = IvfParams {
            nlist: 16,
            ..Default::default()
        };
        let index = IvfIndex::build(&docs, DIM, metric, p).unwrap();
        for (k, nprobe) in [(10, 3), (50, 16), (7, 1)] {
            let batch = index
                .search_batch_with(&queries, n, k, &probe(nprobe, None))
                .unwrap();
            for (i, got) in batch.iter().enumerate() {
                let alone = index
                    .search_batch_with(&queries[i * DIM..(i + 1) * DIM], 1, k, &probe(nprobe, None))
                    .unwrap();
                let bits = |h: &[trawl_vector::Hit]| {
                    h.iter()
                        .map(|h| (h.doc, h.score.to_bits()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    bits(got),
                    bits(&alone[0]),
                    "{metric:?} k {k} nprobe {nprobe} query {i}"
                );
            }
        }
    }
}
