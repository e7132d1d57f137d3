//! Constructed results for the tests: systems with given per-query values.

#![allow(dead_code)]

use std::collections::BTreeMap;

use trawl_report::results::{FORMAT, FORMAT_VERSION};
use trawl_report::*;

pub fn system(label: &str, values: &[f64]) -> SystemResults {
    let per_query: BTreeMap<String, Vec<f64>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("q{i:02}"), vec![*v]))
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    SystemResults {
        system: label.into(),
        retriever: label.split(':').next().unwrap().into(),
        model: None,
        run_file: format!("runs/{label}.trec"),
        kb: KbInfo {
            dir: "kb".into(),
            corpus_hash: "h".into(),
            generation: "g".into(),
            reused: true,
        },
        mean: [("nDCG@10".to_string(), mean)].into(),
        per_query,
        queries_without_hits: vec![],
        recall_curve: vec![],
        timings: Timings {
            index_s: 0.0,
            open_s: 0.0,
            search_s: 0.0,
            queries_per_s: 0.0,
            latency_ms: Latency::of(&[]),
            per_query_latency_ms: vec![],
        },
        significance: BTreeMap::new(),
    }
}

pub fn results(datasets: Vec<(&str, Vec<SystemResults>)>) -> Results {
    Results {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        trawl_version: "0".into(),
        created_unix_s: 0,
        machine: Machine::current(),
        split: "test".into(),
        k: 1000,
        metrics: vec!["nDCG@10".into()],
        significance: SignificanceSettings {
            baseline: "bm25".into(),
            test: "t".into(),
            alpha: 0.05,
            permutations: 1000,
            seed: 42,
            correction: "holm-bonferroni".into(),
        },
        datasets: datasets
            .into_iter()
            .map(|(name, systems)| DatasetResults {
                name: name.into(),
                path: name.into(),
                num_queries: 10,
                num_docs: 100,
                systems,
            })
            .collect(),
    }
}
