//! `trawl eval` and `trawl compare` on real BEIR qrels (scifact test) with runs built from them,
//! and `trawl eval` agreeing with trec_eval's own expected output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trawl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .expect("run trawl")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "trawl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// scifact test qrels: query -> relevant docs.
fn scifact() -> Option<(PathBuf, BTreeMap<String, Vec<String>>)> {
    let dir = trawl_data::shared_data::locate("beir/scifact")?;
    let path = dir.join("qrels/test.tsv");
    let mut judged: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(&path).unwrap().lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f[2] != "0" {
            judged.entry(f[0].into()).or_default().push(f[1].into());
        }
    }
    Some((path, judged))
}

/// A run: per query, `negatives` unjudged documents first, then the relevant ones (or the
/// relevant ones first when `negatives_first` is false).
fn write_run(
    path: &Path,
    judged: &BTreeMap<String, Vec<String>>,
    negatives: usize,
    negatives_first: bool,
    extra: impl Fn(&str) -> Vec<String>,
) {
    let mut text = String::new();
    for (q, rel) in judged {
        let negs: Vec<String> = (0..negatives).map(|i| format!("neg-{q}-{i}")).collect();
        let mut docs: Vec<String> = extra(q);
        if negatives_first {
            docs.extend(negs);
            docs.extend(rel.iter().cloned());
        } else {
            docs.extend(rel.iter().cloned());
            docs.extend(negs);
        }
        for (rank, d) in docs.iter().enumerate() {
            text.push_str(&format!("{q} Q0 {d} {} {} test\n", rank + 1, 1000 - rank));
        }
    }
    std::fs::write(path, text).unwrap();
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&stdout(&trawl(args))).unwrap()
}

#[test]
fn perfect_and_reversed_runs_on_scifact() {
    let Some((qrels, judged)) = scifact() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let perfect = dir.path().join("perfect.run");
    let reversed = dir.path().join("reversed.run");
    write_run(&perfect, &judged, 5, false, |_| vec![]);
    write_run(&reversed, &judged, 100, true, |_| vec![]);
    let q = qrels.to_str().unwrap();

    let v = json(&[
        "eval",
        "--qrels",
        q,
        "--run",
        perfect.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["num_queries"], judged.len());
    for m in ["nDCG@10", "Recall@100", "MRR@10", "MAP@100"] {
        assert_eq!(v["metrics"][m], 1.0, "{m}");
    }

    let v = json(&[
        "eval",
        "--qrels",
        q,
        "--run",
        reversed.to_str().unwrap(),
        "--json",
        "--metrics",
        "ndcg@10,recall@100,mrr@10,mrr,hit@100,recall@1000",
        "--per-query",
    ]);
    assert_eq!(v["metrics"]["nDCG@10"], 0.0);
    assert_eq!(v["metrics"]["Recall@100"], 0.0);
    assert_eq!(v["metrics"]["MRR@10"], 0.0);
    assert_eq!(v["metrics"]["Hit@100"], 0.0);
    assert_eq!(v["metrics"]["Recall@1000"], 1.0);
    // The first relevant document sits at rank 101 in every query.
    let mrr = v["metrics"]["MRR"].as_f64().unwrap();
    assert!((mrr - 1.0 / 101.0).abs() < 1e-12, "{mrr}");
    assert_eq!(v["per_query"].as_object().unwrap().len(), judged.len());

    // The table lines up: every row has the value column at the same offset.
    let table = stdout(&trawl(&[
        "eval",
        "--qrels",
        q,
        "--run",
        perfect.to_str().unwrap(),
    ]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[1].trim_end(), "nDCG@10     1.0000");
    assert!(
        lines[..5].iter().all(|l| l.len() == lines[0].len()),
        "{table}"
    );
}

#[test]
fn ignore_identical_ids_drops_the_query_document() {
    let Some((qrels, judged)) = scifact() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("self.run");
    write_run(&run, &judged, 0, false, |q| vec![q.to_string()]);
    let q = qrels.to_str().unwrap();
    let r = run.to_str().unwrap();
    let plain = json(&[
        "eval",
        "--qrels",
        q,
        "--run",
        r,
        "--json",
        "--metrics",
        "mrr@1",
    ]);
    let ignored = json(&[
        "eval",
        "--qrels",
        q,
        "--run",
        r,
        "--json",
        "--metrics",
        "mrr@1",
        "--ignore-identical-ids",
    ]);
    assert!(plain["metrics"]["MRR@1"].as_f64().unwrap() < 0.1);
    assert_eq!(ignored["metrics"]["MRR@1"], 1.0);
}

#[test]
fn compare_reports_deltas_and_significance_reproducibly() {
    let Some((qrels, judged)) = scifact() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.run");
    let bad = dir.path().join("bad.run");
    write_run(&good, &judged, 5, false, |_| vec![]);
    write_run(&bad, &judged, 3, true, |_| vec![]);
    let (q, g, b) = (
        qrels.to_str().unwrap(),
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    );

    let args = [
        "compare",
        "--qrels",
        q,
        g,
        b,
        "--metrics",
        "ndcg@10,mrr@10",
        "--json",
        "--seed",
        "7",
    ];
    let v = json(&args);
    let rows = v["metrics"]["nDCG@10"].as_array().unwrap();
    assert_eq!(rows[0]["run"], "good.run");
    assert!(rows[0]["delta"].is_null());
    assert!(rows[1]["delta"].as_f64().unwrap() < -0.3);
    assert!(rows[1]["p_ttest"].as_f64().unwrap() < 1e-10);
    // 300 queries that all lose: no sign assignment is as extreme, so p = 1 / (10000 + 1).
    assert!((rows[1]["p_randomisation"].as_f64().unwrap() - 1.0 / 10001.0).abs() < 1e-12);
    assert_eq!(v, json(&args), "same seed, same output");

    let same = json(&[
        "compare",
        "--qrels",
        q,
        g,
        g,
        "--metrics",
        "ndcg@10",
        "--json",
    ]);
    assert_eq!(same["metrics"]["nDCG@10"][1]["p_ttest"], 1.0);
    assert_eq!(same["metrics"]["nDCG@10"][1]["p_randomisation"], 1.0);

    let table = stdout(&trawl(&[
        "compare",
        "--qrels",
        q,
        g,
        b,
        "--metrics",
        "ndcg@10",
    ]));
    assert!(table.contains("*") && table.contains("†"), "{table}");
}

#[test]
fn eval_agrees_with_trec_eval_expected_output() {
    let Some(dir) = trawl_data::shared_data::locate("trec_eval") else {
        return;
    };
    let v = json(&[
        "eval",
        "--qrels",
        dir.join("qrels.test").to_str().unwrap(),
        "--run",
        dir.join("results.test").to_str().unwrap(),
        "--json",
        "--metrics",
        "ndcg@10,p@10,map,recall@100,hit@10,map@1000,mrr",
    ]);
    let expected = std::fs::read_to_string(dir.join("out.test.a")).unwrap();
    let want = |name: &str| -> f64 {
        let line = expected
            .lines()
            .find(|l| l.split('\t').next().unwrap().trim() == name)
            .unwrap();
        line.split('\t').nth(2).unwrap().parse().unwrap()
    };
    for (ours, theirs) in [
        ("nDCG@10", "ndcg_cut_10"),
        ("P@10", "P_10"),
        ("MAP", "map"),
        ("Recall@100", "recall_100"),
        ("Hit@10", "success_10"),
        ("MAP@1000", "map_cut_1000"),
        ("MRR", "recip_rank"),
    ] {
        let got = v["metrics"][ours].as_f64().unwrap();
        assert!(
            (got - want(theirs)).abs() < 5e-5,
            "{ours}: {got} vs {theirs} {}",
            want(theirs)
        );
    }
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q");
    let r = dir.path().join("r");
    std::fs::write(&q, "1 0 a 1\n").unwrap();
    std::fs::write(&r, "1 Q0 a 1 1.0 t\n1 Q0 b 2 oops t\n").unwrap();
    let out = trawl(&[
        "eval",
        "--qrels",
        q.to_str().unwrap(),
        "--run",
        r.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":2: expected a numeric score in column 5, found `oops`"),
        "{err}"
    );

    let out = trawl(&[
        "eval",
        "--qrels",
        q.to_str().unwrap(),
        "--run",
        r.to_str().unwrap(),
        "--metrics",
        "ndcg@ten",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown metric 'ndcg@ten'"));

    std::fs::write(&r, "9 Q0 a 1 1.0 t\n").unwrap();
    let out = trawl(&[
        "eval",
        "--qrels",
        q.to_str().unwrap(),
        "--run",
        r.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no queries with both"));
}
