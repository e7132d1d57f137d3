//! Means are bit-identical for the same input, whatever order the queries sit in memory (each
//! `HashMap` has its own random hash seed, as in separate processes) and whatever the thread
//! count: sums run over queries in sorted id order.

use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trawl_data::trec_format::{parse_qrels, parse_run, Dialect};
use trawl_data::{Qrels, Run};
use trawl_eval::{evaluate, evaluate_table, EvalOptions, Metric};

struct Fixture {
    judgements: Vec<(String, String, i32)>,
    results: Vec<(String, String, f64)>,
}

/// 300 queries with graded judgements and 40 scored results each: per-query values with many
/// significant bits, so the order of summation shows in the last digits.
fn fixture() -> Fixture {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (mut judgements, mut results) = (Vec::new(), Vec::new());
    for q in 0..300 {
        let qid = format!("q{q}");
        for d in 0..60 {
            if rng.random_bool(0.2) {
                judgements.push((qid.clone(), format!("d{d}"), rng.random_range(0..4)));
            }
        }
        judgements.push((qid.clone(), "d0".into(), 1));
        for d in 1..41 {
            results.push((qid.clone(), format!("d{d}"), rng.random::<f64>()));
        }
    }
    judgements.sort();
    judgements.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    Fixture {
        judgements,
        results,
    }
}

fn metrics() -> Vec<Metric> {
    ["ndcg@10", "map", "recall@100", "mrr@10", "p@5"]
        .iter()
        .map(|m| m.parse().unwrap())
        .collect()
}

/// The fixture built into fresh maps, inserted in a shuffled order.
fn build(f: &Fixture, rng: &mut ChaCha8Rng) -> (Qrels, Run) {
    let mut j: Vec<_> = f.judgements.iter().collect();
    j.shuffle(rng);
    let mut qrels = Qrels::new();
    for (q, d, g) in j {
        qrels.insert(q.as_str(), d.as_str(), *g);
    }
    let mut by_query: Vec<Vec<&(String, String, f64)>> = Vec::new();
    for r in &f.results {
        match by_query.last_mut() {
            Some(v) if v[0].0 == r.0 => v.push(r),
            _ => by_query.push(vec![r]),
        }
    }
    by_query.shuffle(rng);
    let mut run = Run::new();
    for list in by_query {
        for (q, d, s) in list {
            run.push(q.as_str(), d.as_str(), *s);
        }
    }
    (qrels, run)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn the_fixture_is_sensitive_to_summation_order() {
    // Without this, the test below could pass whatever order the sums used.
    let f = fixture();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (qrels, run) = build(&f, &mut rng);
    let e = evaluate(&qrels, &run, &metrics(), &EvalOptions::default()).unwrap();
    let mut values: Vec<f64> = e.per_query.values().map(|v| v[0]).collect();
    let sums: std::collections::HashSet<u64> = (0..20)
        .map(|_| {
            values.shuffle(&mut rng);
            values.iter().sum::<f64>().to_bits()
        })
        .collect();
    assert!(sums.len() > 1, "every order gave the same sum");
}

#[test]
fn means_are_bit_identical_across_map_orders_and_thread_counts() {
    let f = fixture();
    let metrics = metrics();
    let opts = EvalOptions::default();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (qrels, run) = build(&f, &mut rng);
    let reference = bits(&evaluate(&qrels, &run, &metrics, &opts).unwrap().mean);
    for threads in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for _ in 0..8 {
            let (qrels, run) = build(&f, &mut rng);
            let mean = pool.install(|| evaluate(&qrels, &run, &metrics, &opts).unwrap().mean);
            assert_eq!(bits(&mean), reference, "{threads} threads");
        }
    }
    // The file path (borrowed tables, queries in file order) gives the same bits for any line
    // order of the files.
    for _ in 0..4 {
        let mut q: Vec<String> = f
            .judgements
            .iter()
            .map(|(q, d, g)| format!("{q} 0 {d} {g}\n"))
            .collect();
        let mut r: Vec<String> = f
            .results
            .iter()
            .map(|(q, d, s)| format!("{q} Q0 {d} 1 {s} run\n"))
            .collect();
        q.shuffle(&mut rng);
        r.shuffle(&mut rng);
        let (q, r) = (q.concat(), r.concat());
        let qrels = parse_qrels(&q, Path::new("q"), Dialect::Permissive).unwrap();
        let run = parse_run(&r, Path::new("r"), Dialect::Permissive).unwrap();
        let mean = evaluate_table(&qrels, run, &metrics, &opts).unwrap().mean;
        assert_eq!(bits(&mean), reference);
    }
}
