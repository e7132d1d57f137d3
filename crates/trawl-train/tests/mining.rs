//! Hard-negative mining: positives excluded, rank range, margin against false negatives,
//! strategies, and BM25/dense candidate sources end to end.

use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use trawl_train::data::{eval_set_from_examples, parse_example, TrainExample};
use trawl_train::mining::*;

fn cands(scores: &[f32], positive_score: Option<f32>) -> Candidates {
    Candidates {
        ranked: scores.iter().enumerate().map(|(i, s)| (i, *s)).collect(),
        positive_score,
    }
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(1)
}

#[test]
fn positives_are_excluded_and_the_rank_range_holds() {
    let c = cands(&[0.9, 0.8, 0.7, 0.6, 0.5, 0.4], None);
    let pos: HashSet<usize> = [1].into();
    let cfg = MiningConfig {
        num: 10,
        range: (2, 5),
        ..Default::default()
    };
    assert_eq!(
        select_negatives(&c, &pos, ScoreKind::Cosine, &cfg, &mut rng()),
        vec![2, 3, 4]
    );
    let cfg = MiningConfig {
        num: 2,
        range: (1, 6),
        ..Default::default()
    };
    assert_eq!(
        select_negatives(&c, &pos, ScoreKind::Cosine, &cfg, &mut rng()),
        vec![0, 2]
    );
}

#[test]
fn margin_drops_candidates_too_close_to_the_positive() {
    let c = cands(&[0.95, 0.83, 0.79, 0.6], Some(0.85));
    let cfg = MiningConfig {
        num: 5,
        margin: Some(0.05),
        ..Default::default()
    };
    // 0.95 and 0.83 are within 0.05 of (or above) the positive's 0.85.
    assert_eq!(
        select_negatives(&c, &HashSet::new(), ScoreKind::Cosine, &cfg, &mut rng()),
        vec![2, 3]
    );
    // BM25: relative margin, 10 * (1 - 0.1) = 9.
    let c = cands(&[12.0, 9.5, 8.9, 3.0], Some(10.0));
    let cfg = MiningConfig {
        num: 5,
        margin: Some(0.1),
        ..Default::default()
    };
    assert_eq!(
        select_negatives(&c, &HashSet::new(), ScoreKind::Bm25, &cfg, &mut rng()),
        vec![2, 3]
    );
    // Unknown positive score: the margin cannot apply.
    let c = cands(&[12.0, 9.5], None);
    assert_eq!(
        select_negatives(&c, &HashSet::new(), ScoreKind::Bm25, &cfg, &mut rng()),
        vec![0, 1]
    );
}

#[test]
fn random_and_semi_hard_strategies() {
    let scores: Vec<f32> = (0..50).map(|i| 1.0 - i as f32 * 0.01).collect();
    let c = cands(&scores, Some(0.9));
    let cfg = MiningConfig {
        num: 5,
        range: (1, 50),
        strategy: Strategy::Random,
        seed: 3,
        ..Default::default()
    };
    let a = select_negatives(
        &c,
        &HashSet::new(),
        ScoreKind::Cosine,
        &cfg,
        &mut ChaCha8Rng::seed_from_u64(3),
    );
    let b = select_negatives(
        &c,
        &HashSet::new(),
        ScoreKind::Cosine,
        &cfg,
        &mut ChaCha8Rng::seed_from_u64(3),
    );
    assert_eq!(a, b, "seeded");
    assert_eq!(a.len(), 5);
    assert_ne!(a, vec![0, 1, 2, 3, 4], "a sample, not the top");
    let cfg = MiningConfig {
        num: 3,
        range: (1, 50),
        strategy: Strategy::SemiHard,
        margin: Some(0.05),
        semi_hard_band: 0.1,
        ..Default::default()
    };
    let s = select_negatives(&c, &HashSet::new(), ScoreKind::Cosine, &cfg, &mut rng());
    // Band [0.75, 0.85]: scores 0.85 (index 15; float rounding may exclude it), 0.84, ...
    for i in &s {
        let sc = scores[*i];
        assert!((0.75 - 1e-6..=0.85 + 1e-6).contains(&sc), "{sc}");
    }
    assert_eq!(s.len(), 3);
    assert!("semi-hard".parse::<Strategy>().is_ok() && "hardest".parse::<Strategy>().is_err());
    assert_eq!(parse_range("10-100").unwrap(), (10, 100));
    assert!(
        parse_range("100-10").is_err() && parse_range("0-5").is_err() && parse_range("x").is_err()
    );
}

fn toy() -> Vec<TrainExample> {
    let ex = |q: &str, p: &str| TrainExample {
        query: q.into(),
        positive: p.into(),
        negatives: vec![],
    };
    vec![
        ex("cat food", "what cats eat: cat food and fish"),
        ex("dog walking", "walking a dog in the park every day"),
        ex("rain forecast", "the rain forecast for tomorrow"),
        ex("cat toys", "toys for a cat: balls and mice"),
    ]
}

#[test]
fn bm25_mining_writes_trainable_lines_without_positives() {
    let mut corpus_side = toy();
    corpus_side.push(TrainExample {
        query: "x".into(),
        positive: "a cat sat on the cat mat".into(),
        negatives: vec![],
    });
    let set = eval_set_from_examples(&toy(), &corpus_side);
    let c = bm25_candidates(&set, 10).unwrap();
    let cfg = MiningConfig {
        num: 2,
        ..Default::default()
    };
    let mined = mine(&set, &c, ScoreKind::Bm25, &cfg).unwrap();
    assert_eq!(mined.len(), 4);
    let cat = mined.iter().find(|m| m.query == "cat food").unwrap();
    assert!(!cat.negatives.contains(&cat.positive));
    assert!(!cat.negatives.is_empty());
    assert!(
        cat.negatives.iter().all(|n| n.contains("cat")),
        "BM25 negatives share terms: {:?}",
        cat.negatives
    );
    // Every mined line reads back as a training example.
    for (i, m) in mined.iter().enumerate() {
        let line = serde_json::to_string(m).unwrap();
        let ex = parse_example(std::path::Path::new("mined.jsonl"), i + 1, &line).unwrap();
        assert_eq!(ex.negatives, m.negatives);
    }
}

#[test]
fn dense_mining_with_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    trawl_train::testkit::write_tiny_model(dir.path(), 4).unwrap();
    let model = trawl_train::SentenceModel::load(dir.path(), &Default::default()).unwrap();
    let ex: Vec<TrainExample> = ["cat", "dog", "sky", "tree", "car", "sun"]
        .iter()
        .map(|w| TrainExample {
            query: format!("what is {w}"),
            positive: format!("the {w} is red"),
            negatives: vec![],
        })
        .collect();
    let set = eval_set_from_examples(&ex, &[]);
    let c = dense_candidates(&model, &set, 10, 4).unwrap();
    assert!(c
        .iter()
        .all(|c| c.positive_score.is_some() && c.ranked.len() == 6));
    let mined = mine(
        &set,
        &c,
        ScoreKind::Cosine,
        &MiningConfig {
            num: 3,
            ..Default::default()
        },
    )
    .unwrap();
    for m in &mined {
        assert_eq!(m.negatives.len(), 3);
        assert!(!m.negative_ids.contains(&m.positive_id));
    }
}
