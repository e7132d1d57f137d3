//! Rewards equal `trawl_eval::evaluate` (what `trawl eval` prints) on the same rankings: every
//! metric, every mode, graded labels, and rankings full of tied scores.

use trawl_data::{Qrels, Run};
use trawl_eval::{evaluate, EvalOptions, Metric};
use trawl_retrieve::{
    compute_rewards, retrieve_rewrites, InMemoryRetriever, Labels, RewardItem, RewardSpec,
    RewriteFusion, RewriteMode, UnknownUidPolicy,
};

/// A small deterministic generator (xorshift) so the fixture needs no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const VOCAB: usize = 40;

fn word(i: u64) -> String {
    format!("w{i}")
}

#[test]
fn rewards_match_evaluate_for_every_metric_and_mode() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let docs: Vec<(String, String)> = (0..300)
        .map(|d| {
            let len = 3 + rng.below(8);
            let text: Vec<String> = (0..len).map(|_| word(rng.below(VOCAB as u64))).collect();
            (format!("doc{d:03}"), text.join(" "))
        })
        .collect();
    let triples: Vec<(&str, &str, &str)> = docs
        .iter()
        .map(|(i, t)| (i.as_str(), "", t.as_str()))
        .collect();
    let retriever = InMemoryRetriever::new("mem", &triples);

    let mut qrels = Qrels::new();
    let mut items = Vec::new();
    for q in 0..60 {
        let uid = format!("q{q}");
        for _ in 0..(1 + rng.below(6)) {
            qrels.insert(
                uid.as_str(),
                format!("doc{:03}", rng.below(300)),
                rng.below(3) as i32,
            );
        }
        let rewrites = 1 + rng.below(3);
        let queries = (0..rewrites)
            .map(|_| {
                (0..2)
                    .map(|_| word(rng.below(VOCAB as u64)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        items.push(RewardItem {
            uid,
            queries,
            relevant: None,
        });
    }
    let labels = Labels::from_qrels(qrels.clone());
    let texts: Vec<Vec<String>> = items.iter().map(|i| i.queries.clone()).collect();

    let mut compared = 0;
    for metric in [
        "ndcg@10",
        "recall@10",
        "hit@3",
        "mrr@10",
        "precision@5",
        "ndcg@3",
    ] {
        let eval_metric: Metric = metric.replace("precision", "p").parse().unwrap();
        for mode in [
            RewriteMode::Single,
            RewriteMode::Union,
            RewriteMode::Intersection,
        ] {
            for fusion in [RewriteFusion::Rrf, RewriteFusion::MaxScore] {
                let k = 20;
                let spec = RewardSpec {
                    k,
                    mode,
                    fusion,
                    metric: metric.parse().unwrap(),
                    unknown_uid: UnknownUidPolicy::Error,
                };
                let rewards = compute_rewards(&retriever, &items, Some(&labels), &spec).unwrap();
                let rankings = retrieve_rewrites(&retriever, &texts, k, mode, fusion).unwrap();
                // One run for the fused rankings, one per rewrite position.
                let mut fused_run = Run::new();
                let mut rewrite_runs: Vec<Run> = vec![Run::new(); 3];
                for (item, r) in items.iter().zip(&rankings) {
                    for d in &r.fused {
                        fused_run.push(item.uid.as_str(), &*d.id, d.score as f64);
                    }
                    for (j, ranking) in r.per_query.iter().enumerate() {
                        for d in ranking {
                            rewrite_runs[j].push(item.uid.as_str(), &*d.id, d.score as f64);
                        }
                    }
                }
                let opts = EvalOptions::default();
                let fused_eval = evaluate(&qrels, &fused_run, &[eval_metric], &opts).unwrap();
                let rewrite_evals: Vec<_> = rewrite_runs
                    .iter()
                    .map(|run| evaluate(&qrels, run, &[eval_metric], &opts).unwrap())
                    .collect();
                for (item, got) in items.iter().zip(&rewards) {
                    assert_eq!(got.error, None);
                    // evaluate skips queries with an empty ranking; their metric is 0.
                    let value = |e: &trawl_eval::Evaluation| {
                        e.per_query.get(&item.uid).map_or(0.0, |v| v[0])
                    };
                    for (j, &r) in got.per_query.iter().enumerate() {
                        let want = value(&rewrite_evals[j]);
                        assert!(
                            (r - want).abs() < 1e-12,
                            "{metric} {mode:?} {} rewrite {j}: {r} vs {want}",
                            item.uid
                        );
                        compared += 1;
                    }
                    let want = match mode {
                        RewriteMode::Single => {
                            got.per_query.iter().sum::<f64>() / got.per_query.len() as f64
                        }
                        _ => value(&fused_eval),
                    };
                    let reward = got.reward.unwrap();
                    assert!(
                        (reward - want).abs() < 1e-12,
                        "{metric} {mode:?} {}: {reward} vs {want}",
                        item.uid
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 3000, "compared {compared}");
}
