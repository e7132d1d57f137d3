//! Live updates at the index level: after every step of a random sequence of added segments,
//! replacements, deletions and compactions, searching the segments (deleted documents left out,
//! statistics of the live documents) equals searching one index built from scratch over the
//! live documents: same ranks, bit-identical scores, same order, for every strategy.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trawl_bm25::{
    AnalyzerConfig, Bm25Builder, Bm25Index, Bm25Method, Bm25Params, Hit, Segments, Strategy,
};

fn build(texts: &[String], params: Bm25Params) -> Bm25Index {
    let mut b = Bm25Builder::new(AnalyzerConfig::default(), params).unwrap();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    b.add_documents(&refs);
    b.build().unwrap()
}

fn bits(hits: &[Hit]) -> Vec<(u32, u32)> {
    hits.iter().map(|h| (h.doc, h.score.to_bits())).collect()
}

/// Words with Zipf-like frequencies, so that some lists span several 128-document blocks.
fn text(rng: &mut ChaCha8Rng) -> String {
    let n = rng.random_range(0..30);
    (0..n)
        .map(|_| {
            let r: f64 = rng.random();
            format!("w{}", (r * r * r * 60.0) as u32)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One segment: (id, text) of its documents and which are deleted.
struct Seg {
    docs: Vec<(u32, String)>,
    deleted: Vec<bool>,
}

/// Position in the concatenation of the segments of each live document, in order.
fn live_positions(segs: &[Seg]) -> Vec<u32> {
    segs.iter()
        .flat_map(|s| s.deleted.iter())
        .enumerate()
        .filter(|(_, &d)| !d)
        .map(|(i, _)| i as u32)
        .collect()
}

fn live(segs: &[Seg]) -> Vec<String> {
    segs.iter()
        .flat_map(|s| {
            s.docs
                .iter()
                .zip(&s.deleted)
                .filter(|(_, &d)| !d)
                .map(|((_, t), _)| t.clone())
        })
        .collect()
}

fn delete_id(segs: &mut [Seg], id: u32) {
    for s in segs.iter_mut() {
        for (i, (d, _)) in s.docs.iter().enumerate() {
            if *d == id {
                s.deleted[i] = true;
            }
        }
    }
}

fn check(segs: &[Seg], params: Bm25Params, rng: &mut ChaCha8Rng, step: usize) {
    let parts = segs
        .iter()
        .map(|s| {
            let texts: Vec<String> = s.docs.iter().map(|(_, t)| t.clone()).collect();
            let mut bitmap = vec![0u64; s.docs.len().div_ceil(64)];
            for (i, &d) in s.deleted.iter().enumerate() {
                if d {
                    bitmap[i >> 6] |= 1 << (i & 63);
                }
            }
            (build(&texts, params), bitmap)
        })
        .collect();
    let segments = Segments::new(parts).unwrap();
    let fresh = build(&live(segs), params);
    let positions = live_positions(segs);
    assert_eq!(segments.num_live(), fresh.num_docs());
    for _ in 0..12 {
        let q = text(rng);
        for k in [1, 5, 1000] {
            let want: Vec<(u32, u32)> = bits(&fresh.search_exhaustive(&q, k))
                .into_iter()
                .map(|(rank, score)| (positions[rank as usize], score))
                .collect();
            for strategy in [
                Strategy::Exhaustive,
                Strategy::DocAtATime,
                Strategy::Windowed,
                Strategy::BlockMaxWand,
                Strategy::TermAtATime,
            ] {
                let got = bits(&segments.search_with(&q, k, strategy));
                assert_eq!(
                    got, want,
                    "{:?} step {step}, query {q:?}, k {k}, {strategy:?}",
                    params.method
                );
            }
        }
    }
}

#[test]
fn segments_with_deletions_equal_a_fresh_build_after_every_update() {
    for (seed, method) in [
        (1, Bm25Method::Lucene),
        (2, Bm25Method::Robertson),
        (3, Bm25Method::Atire),
        (4, Bm25Method::Bm25L),
        (5, Bm25Method::Bm25Plus),
    ] {
        let params = Bm25Params {
            method,
            ..Bm25Params::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut next_id = 0u32;
        let mut segs: Vec<Seg> = Vec::new();
        for step in 0..14 {
            match rng.random_range(0..4) {
                // Add a batch: new ids, and some existing ids replaced (upsert).
                0 | 1 => {
                    let mut docs = Vec::new();
                    for _ in 0..rng.random_range(1..300) {
                        let id = if next_id > 0 && rng.random_bool(0.2) {
                            rng.random_range(0..next_id)
                        } else {
                            next_id += 1;
                            next_id - 1
                        };
                        if docs.iter().any(|(d, _)| *d == id) {
                            continue;
                        }
                        delete_id(&mut segs, id);
                        docs.push((id, text(&mut rng)));
                    }
                    let n = docs.len();
                    segs.push(Seg {
                        docs,
                        deleted: vec![false; n],
                    });
                }
                // Delete some ids (unknown ones included: nothing happens).
                2 => {
                    for _ in 0..rng.random_range(0..80) {
                        let id = rng.random_range(0..next_id + 5);
                        delete_id(&mut segs, id);
                    }
                }
                // Compact: one segment of the live documents, in order.
                _ => {
                    let docs: Vec<(u32, String)> = segs
                        .iter()
                        .flat_map(|s| {
                            s.docs
                                .iter()
                                .zip(&s.deleted)
                                .filter(|(_, &d)| !d)
                                .map(|(x, _)| x.clone())
                        })
                        .collect();
                    let n = docs.len();
                    segs = vec![Seg {
                        docs,
                        deleted: vec![false; n],
                    }];
                }
            }
            check(&segs, params, &mut rng, step);
        }
    }
}

#[test]
fn segments_with_other_settings_are_refused_naming_both() {
    let a = build(&["one two".into()], Bm25Params::default());
    let b = build(
        &["three".into()],
        Bm25Params {
            k1: 1.2,
            ..Bm25Params::default()
        },
    );
    let err = Segments::new(vec![(a, vec![]), (b, vec![])]).err().unwrap();
    let msg = err.to_string();
    assert!(msg.contains("k1: 0.9") && msg.contains("k1: 1.2"), "{msg}");
}
