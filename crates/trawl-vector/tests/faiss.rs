//! FAISS import against faiss-cpu itself: the fixtures in tests/data/faiss were written by
//! `bench/faiss_fixtures.py` (faiss-cpu), with faiss-cpu's own top-10 for 100 queries. The
//! imported index, searched with the same nprobe / ef, must return the same top-10 ids for at
//! least 99% of the queries and the same scores within 1e-4 (a score is FAISS's inner product,
//! or minus its squared L2 distance). Saved and reopened, it must answer exactly as in memory.

use std::path::PathBuf;

use trawl_vector::{
    read_faiss, FaissIndex, HnswIndex, IvfIndex, Metric, SearchParams, VectorIndex,
};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/faiss")
}

struct Expected {
    metric: String,
    nprobe: Option<usize>,
    ef: Option<usize>,
    k: usize,
    ids: Vec<Vec<i64>>,
    distances: Vec<Vec<f64>>,
}

fn expected(name: &str) -> Expected {
    let text = std::fs::read_to_string(data().join(format!("{name}.expected.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = |key: &str| -> Vec<Vec<serde_json::Value>> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().clone())
            .collect()
    };
    Expected {
        metric: v["metric"].as_str().unwrap().to_string(),
        nprobe: v["nprobe"].as_u64().map(|x| x as usize),
        ef: v["ef"].as_u64().map(|x| x as usize),
        k: v["k"].as_u64().unwrap() as usize,
        ids: rows("ids")
            .into_iter()
            .map(|r| r.iter().map(|x| x.as_i64().unwrap()).collect())
            .collect(),
        distances: rows("distances")
            .into_iter()
            .map(|r| r.iter().map(|x| x.as_f64().unwrap()).collect())
            .collect(),
    }
}

/// Checks `index` against faiss-cpu's answers; returns the fraction of queries whose top-k ids
/// agree.
fn agreement(name: &str, index: &dyn VectorIndex) -> f64 {
    let e = expected(name);
    let (queries, nq, dim) = trawl_vector::npy::read_npy_f32(data().join("queries.npy")).unwrap();
    assert_eq!(dim, index.dim());
    let want_metric = if e.metric == "l2" {
        Metric::L2
    } else {
        Metric::InnerProduct
    };
    assert_eq!(index.metric(), want_metric, "{name}");
    let params = SearchParams {
        nprobe: e.nprobe,
        ef: e.ef,
        refine: None,
    };
    let got = index.search_batch_with(&queries, nq, e.k, &params).unwrap();
    let mut same = 0;
    for (q, hits) in got.iter().enumerate() {
        let mut a: Vec<i64> = hits.iter().map(|h| h.doc as i64).collect();
        let mut b = e.ids[q].clone();
        // FAISS's score: the inner product, or the squared distance (trawl: its negation).
        let faiss_scores: Vec<f64> = e.distances[q]
            .iter()
            .map(|&d| if e.metric == "l2" { -d } else { d })
            .collect();
        for (h, f) in hits.iter().zip(&faiss_scores) {
            assert!(
                (h.score as f64 - f).abs() <= 1e-4,
                "{name} query {q}: score {} vs faiss {f}",
                h.score
            );
        }
        a.sort_unstable();
        b.sort_unstable();
        if a == b {
            same += 1;
        }
    }
    same as f64 / nq as f64
}

fn check(name: &str, kind: &str) {
    let imported = read_faiss(data().join(format!("{name}.faiss"))).unwrap();
    assert_eq!(imported.as_index().kind(), kind, "{name}");
    assert_eq!(imported.len(), 600);
    let share = agreement(name, imported.as_index());
    eprintln!("{name}: {share} of queries with faiss-cpu's top-10");
    assert!(
        share >= 0.99,
        "{name}: {share} of queries have faiss-cpu's top-10"
    );
    // Saved through trawl-store and reopened (memory-mapped), the index answers the same.
    let dir = tempfile::tempdir().unwrap();
    let (queries, nq, _) = trawl_vector::npy::read_npy_f32(data().join("queries.npy")).unwrap();
    let p = SearchParams::default();
    let before = imported
        .as_index()
        .search_batch_with(&queries, nq, 10, &p)
        .unwrap();
    let reopened: Box<dyn VectorIndex> = match &imported.index {
        FaissIndex::Flat(f) => {
            f.save(dir.path()).unwrap();
            Box::new(trawl_vector::FlatIndex::open(dir.path()).unwrap())
        }
        FaissIndex::Hnsw(h) => {
            h.save(dir.path().join("i")).unwrap();
            Box::new(HnswIndex::open(dir.path().join("i")).unwrap())
        }
        FaissIndex::Ivf(i) => {
            i.save(dir.path().join("i")).unwrap();
            Box::new(IvfIndex::open(dir.path().join("i")).unwrap())
        }
    };
    let after = reopened.search_batch_with(&queries, nq, 10, &p).unwrap();
    assert_eq!(before, after, "{name}: reopened index answers differently");
}

#[test]
fn flat_ip_matches_faiss() {
    check("flat_ip", "flat");
}

#[test]
fn flat_l2_matches_faiss() {
    check("flat_l2", "flat");
}

#[test]
fn scalar_quantizer_matches_faiss() {
    check("sq8_l2", "flat");
}

#[test]
fn ivf_flat_ip_matches_faiss() {
    check("ivfflat_ip", "ivf");
}

#[test]
fn ivf_pq_l2_matches_faiss() {
    check("ivfpq_l2", "ivfpq");
}

#[test]
fn ivf_pq_ip_matches_faiss() {
    check("ivfpq_ip", "ivfpq");
}

#[test]
fn hnsw_ip_matches_faiss() {
    check("hnsw_ip", "hnsw");
}

#[test]
fn hnsw_l2_matches_faiss() {
    check("hnsw_l2", "hnsw");
}

#[test]
fn ivf_pq_reconstruction_is_centroid_plus_codeword() {
    // The stored vectors of an IVF-PQ import are approximations of the originals: close to
    // the exact flat's vectors (same data), never equal.
    let pq = read_faiss(data().join("ivfpq_l2.faiss")).unwrap();
    let flat = read_faiss(data().join("flat_l2.faiss")).unwrap();
    let (a, b) = (pq.vectors(), flat.vectors());
    assert_eq!(a.len(), b.len());
    let err: f32 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        / 600.0;
    assert!(
        err > 0.0 && err < 0.1,
        "mean squared reconstruction error {err}"
    );
}

#[test]
fn every_truncation_of_a_fixture_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ivfpq_ip", "hnsw_l2", "sq8_l2"] {
        let bytes = std::fs::read(data().join(format!("{name}.faiss"))).unwrap();
        let p = dir.path().join("cut.faiss");
        // A spread of cut points, including every byte of the first 200 (all the headers).
        let cuts = (0..200).chain((200..bytes.len()).step_by(997));
        for cut in cuts {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let e = read_faiss(&p)
                .expect_err("a truncated file must not import")
                .to_string();
            assert!(e.contains("FAISS index"), "{name} cut at {cut}: {e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        std::fs::write(&p, &longer).unwrap();
        assert!(read_faiss(&p)
            .unwrap_err()
            .to_string()
            .contains("after the end"));
    }
}
