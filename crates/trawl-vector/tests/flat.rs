use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trawl_vector::{Error, FlatIndex, Hit, Metric, Precision};

fn random(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

/// The reference: score every document with a plain loop, sort by (score desc, ordinal asc).
fn naive(docs: &[f32], q: &[f32], dim: usize, k: usize, cosine: bool) -> Vec<Hit> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut hits: Vec<Hit> = docs
        .chunks(dim)
        .enumerate()
        .map(|(i, d)| {
            let dot: f32 = d.iter().zip(q).map(|(a, b)| a * b).sum();
            let score = if cosine {
                dot / (norm(d) * norm(q))
            } else {
                dot
            };
            Hit {
                doc: i as u32,
                score,
            }
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
    hits.truncate(k);
    hits
}

fn assert_same(got: &[Hit], want: &[Hit], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g.score - w.score).abs() <= tol,
            "score {} vs naive {}",
            g.score,
            w.score
        );
    }
    // Ordinals must agree except where neighbouring scores are within rounding of each other.
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g.doc != w.doc {
            let close = want
                .iter()
                .any(|o| o.doc == g.doc && (o.score - w.score).abs() <= 2.0 * tol);
            assert!(
                close || i + 1 == want.len(),
                "rank {i}: doc {} vs naive {}",
                g.doc,
                w.doc
            );
        }
    }
}

#[test]
fn batched_search_matches_a_naive_loop_for_both_metrics() {
    let (n, dim, nq) = (3000, 48, 300); // several doc blocks and query blocks
    let docs = random(n, dim, 1);
    let queries = random(nq, dim, 2);
    for metric in [Metric::InnerProduct, Metric::Cosine] {
        let mut index = FlatIndex::new(dim, metric, Precision::F32).unwrap();
        index.add(&docs[..1000 * dim]).unwrap();
        index.add(&docs[1000 * dim..]).unwrap();
        let got = index.search_batch(&queries, nq, 25).unwrap();
        for (qi, hits) in got.iter().enumerate() {
            let q = &queries[qi * dim..(qi + 1) * dim];
            assert_same(
                hits,
                &naive(&docs, q, dim, 25, metric == Metric::Cosine),
                1e-4,
            );
        }
        // A single query goes through the sharded path and agrees too.
        let one = index.search(&queries[..dim], 25).unwrap();
        assert_same(&one, &got[0], 1e-4);
    }
}

#[test]
fn f16_storage_halves_memory_and_keeps_rankings_close() {
    let (n, dim) = (2000, 32);
    let docs = random(n, dim, 3);
    let q = random(1, dim, 4);
    let mut a = FlatIndex::new(dim, Metric::InnerProduct, Precision::F32).unwrap();
    let mut b = FlatIndex::new(dim, Metric::InnerProduct, Precision::F16).unwrap();
    a.add(&docs).unwrap();
    b.add(&docs).unwrap();
    assert_eq!(b.memory_bytes() * 2, a.memory_bytes());
    assert_same(
        &b.search(&q, 10).unwrap(),
        &naive(&docs, &q, dim, 10, false),
        1e-2,
    );
}

#[test]
fn ties_rank_the_lower_ordinal_first_and_k_is_capped() {
    let mut index = FlatIndex::new(2, Metric::InnerProduct, Precision::F32).unwrap();
    let row = [1.0f32, 0.0];
    for _ in 0..2500 {
        index.add(&row).unwrap();
    }
    let hits = index.search(&[1.0, 0.0], 5).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.doc).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(index.search(&[1.0, 0.0], 10_000).unwrap().len(), 2500);
    assert!(index.search(&[1.0, 0.0], 0).unwrap().is_empty());
}

#[test]
fn wrong_dimensions_are_refused_with_both_numbers() {
    let mut index = FlatIndex::new(4, Metric::Cosine, Precision::F32).unwrap();
    index.add(&[1.0; 8]).unwrap();
    match index.search(&[1.0; 3], 1) {
        Err(Error::WrongVectorDimension {
            expected: 4,
            received: 3,
        }) => {}
        other => panic!("expected WrongVectorDimension, got {other:?}"),
    }
    match index.search_batch(&[1.0; 16], 2, 1) {
        Err(Error::WrongVectorDimension {
            expected: 4,
            received: 8,
        }) => {}
        other => panic!("expected WrongVectorDimension, got {other:?}"),
    }
    assert!(matches!(
        index.add(&[1.0; 6]),
        Err(Error::RaggedBatch { len: 6, dim: 4 })
    ));
    assert!(index
        .search(&[1.0; 3], 1)
        .unwrap_err()
        .to_string()
        .contains("4-d"));
}

#[test]
fn save_and_open_round_trip_memory_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let docs = random(700, 16, 5);
    let q = random(3, 16, 6);
    for precision in [Precision::F32, Precision::F16] {
        let mut index = FlatIndex::new(16, Metric::Cosine, precision).unwrap();
        index.add(&docs).unwrap();
        let sub = dir.path().join(format!("{precision:?}"));
        index.save(&sub).unwrap();
        let opened = FlatIndex::open(&sub).unwrap();
        assert_eq!(
            (
                opened.dim(),
                opened.len(),
                opened.metric(),
                opened.precision()
            ),
            (16, 700, Metric::Cosine, precision)
        );
        assert_eq!(
            opened.search_batch(&q, 3, 7).unwrap(),
            index.search_batch(&q, 3, 7).unwrap()
        );
        assert_eq!(opened.vector(5), index.vector(5));
        // Adding to a mapped index copies it into RAM and keeps working.
        let mut grown = opened;
        grown.add(&docs[..16]).unwrap();
        assert_eq!(grown.len(), 701);
    }
    assert!(
        std::fs::read_dir(dir.path().join("F32")).unwrap().count() == 1,
        "no temp files left behind"
    );
}

#[test]
fn truncated_or_corrupted_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = FlatIndex::new(8, Metric::InnerProduct, Precision::F32).unwrap();
    index.add(&random(100, 8, 7)).unwrap();
    let path = dir.path().join("v.flat");
    index.save_file(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
    let err = FlatIndex::open_file(&path).unwrap_err().to_string();
    assert!(err.contains("truncated") && err.contains("v.flat"), "{err}");

    let mut flipped = bytes.clone();
    flipped[200] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    assert!(FlatIndex::open_file(&path)
        .unwrap_err()
        .to_string()
        .contains("checksum"));

    std::fs::write(
        &path,
        b"not an index at all, just some text that is long enough to pass",
    )
    .unwrap();
    assert!(FlatIndex::open_file(&path)
        .unwrap_err()
        .to_string()
        .contains("magic"));

    assert!(matches!(
        FlatIndex::open_file(dir.path().join("missing")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn add_rows_of_copies_stored_rows_bit_for_bit_without_renormalising() {
    let dim = 12;
    let data = random(40, dim, 7);
    for (metric, precision) in [
        (Metric::Cosine, Precision::F32),
        (Metric::InnerProduct, Precision::F16),
        (Metric::L2, Precision::F32),
    ] {
        let all = FlatIndex::build(&data, dim, metric, precision).unwrap();
        // A subset gathered from stored rows equals an index built from the original rows.
        let docs: Vec<u32> = (0..40).filter(|d| d % 3 != 1).collect();
        let picked: Vec<f32> = docs
            .iter()
            .flat_map(|&d| data[d as usize * dim..(d as usize + 1) * dim].to_vec())
            .collect();
        let want = FlatIndex::build(&picked, dim, metric, precision).unwrap();
        let mut got = FlatIndex::new(dim, metric, precision).unwrap();
        got.add_rows_of(&all, &docs[..10]).unwrap();
        got.add_rows_of(&all, &docs[10..]).unwrap();
        assert_eq!(got.len(), docs.len());
        assert_eq!(
            got.rows_bytes(),
            want.rows_bytes(),
            "{metric:?} {precision:?}"
        );
    }
    let f32s = FlatIndex::build(&data, dim, Metric::Cosine, Precision::F32).unwrap();
    let mut f16s = FlatIndex::new(dim, Metric::Cosine, Precision::F16).unwrap();
    assert!(f16s.add_rows_of(&f32s, &[0]).is_err(), "storage must match");
    let mut other = FlatIndex::new(dim + 1, Metric::Cosine, Precision::F32).unwrap();
    let err = other.add_rows_of(&f32s, &[0]).unwrap_err().to_string();
    assert!(err.contains("12") && err.contains("13"), "{err}");
    let mut same = FlatIndex::new(dim, Metric::Cosine, Precision::F32).unwrap();
    assert!(same.add_rows_of(&f32s, &[40]).is_err(), "out of range");
}

#[test]
fn search_where_returns_the_top_k_of_the_kept_documents() {
    let dim = 8;
    let data = random(3000, dim, 3);
    let queries = random(5, dim, 4);
    let index = FlatIndex::build(&data, dim, Metric::InnerProduct, Precision::F32).unwrap();
    let keep = |d: u32| !d.is_multiple_of(7) && !(1000..2100).contains(&d);
    let all = index.search_batch(&queries, 5, 3000).unwrap();
    for k in [1, 10, 2500] {
        let got = index
            .search_batch_where(&queries, 5, k, Some(&keep))
            .unwrap();
        for (g, a) in got.iter().zip(&all) {
            let want: Vec<Hit> = a.iter().filter(|h| keep(h.doc)).take(k).copied().collect();
            assert_eq!(g, &want, "k={k}");
        }
    }
}
