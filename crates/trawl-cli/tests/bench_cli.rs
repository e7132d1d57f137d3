//! `trawl bench`: the paper table's numbers equal `trawl eval` on the written run files, its
//! p-values equal `trawl compare`'s on the same pairs, and its daggers follow Holm-Bonferroni
//! over those p-values; bad arguments get clear errors.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{model_dir, ok, trawl};

/// Two datasets from the bundled sample: `alpha` as is, `beta` without two of its queries'
/// judgements (so the two datasets give different p-values).
fn datasets(root: &Path) -> (PathBuf, PathBuf) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let mut out = Vec::new();
    for name in ["alpha", "beta"] {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("qrels")).unwrap();
        for f in ["corpus.jsonl", "queries.jsonl"] {
            std::fs::copy(sample.join(f), dir.join(f)).unwrap();
        }
        let qrels = std::fs::read_to_string(sample.join("qrels/test.tsv")).unwrap();
        let qrels: String = qrels
            .lines()
            .filter(|l| name == "alpha" || !(l.starts_with("q2\t") || l.starts_with("q5\t")))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.join("qrels/test.tsv"), qrels).unwrap();
        out.push(dir);
    }
    (out[0].clone(), out[1].clone())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn table_equals_eval_and_markers_equal_compare_with_holm() {
    let tmp = tempfile::tempdir().unwrap();
    let (alpha, beta) = datasets(tmp.path());
    let out = tmp.path().join("results");
    let model = model_dir();
    let mut systems = vec!["bm25".to_string()];
    if let Some(m) = &model {
        systems.push(format!("dense:{}", m.display()));
        systems.push(format!("hybrid:{}", m.display()));
    }
    let datasets = format!("{},{}", alpha.display(), beta.display());
    let mut args = vec!["bench", "--datasets", &datasets, "--out"];
    let out_s = out.to_str().unwrap();
    args.push(out_s);
    for s in &systems {
        args.extend(["--system", s.as_str()]);
    }
    args.extend(["--baseline", "bm25", "--test", "t"]);
    ok(&trawl(&args));

    let results = read_json(&out.join("results.json"));
    let csv = std::fs::read_to_string(out.join("table.csv")).unwrap();
    let md = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(
        md.contains(
            "two-sided paired t-test, Holm-Bonferroni corrected across 2 datasets, α = 0.05"
        ),
        "{md}"
    );
    let csv_rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        csv_rows[0],
        ["system", "alpha", "alpha p_holm", "beta", "beta p_holm"]
    );
    let mut p_by_system: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for (di, (ds, data_dir)) in [("alpha", &alpha), ("beta", &beta)].iter().enumerate() {
        let d = &results["datasets"][di];
        assert_eq!(d["name"], *ds);
        let qrels = data_dir.join("qrels/test.tsv");
        let systems_json = d["systems"].as_array().unwrap();
        assert_eq!(systems_json.len(), systems.len());
        let base_run = out.join(systems_json[0]["run_file"].as_str().unwrap());
        for (si, s) in systems_json.iter().enumerate() {
            let run = out.join(s["run_file"].as_str().unwrap());
            let eval: Value = serde_json::from_str(&ok(&trawl(&[
                "eval",
                "--qrels",
                qrels.to_str().unwrap(),
                "--run",
                run.to_str().unwrap(),
                "--json",
            ])))
            .unwrap();
            // Every sample query has hits, so nothing is scaled: results.json's means are
            // `trawl eval`'s, to the bit.
            assert_eq!(s["queries_without_hits"], serde_json::json!([]));
            assert_eq!(s["mean"], eval["metrics"], "{ds} {}", s["system"]);
            // The table prints them as `trawl eval` does (4 decimals).
            let row = &csv_rows[1 + si];
            assert_eq!(row[0], s["system"].as_str().unwrap());
            let ndcg = eval["metrics"]["nDCG@10"].as_f64().unwrap();
            assert_eq!(row[1 + 2 * di], format!("{ndcg:.4}"));
            assert!(
                s["timings"]["latency_ms"]["p50"].as_f64().unwrap()
                    <= s["timings"]["latency_ms"]["p99"].as_f64().unwrap()
            );
            assert_eq!(s["recall_curve"].as_array().unwrap().len(), 1000);
            assert_eq!(
                s["recall_curve"][99].as_f64().unwrap(),
                eval["metrics"]["Recall@100"].as_f64().unwrap()
            );
            if si == 0 {
                assert!(s["significance"].as_object().unwrap().is_empty());
                continue;
            }
            let cmp: Value = serde_json::from_str(&ok(&trawl(&[
                "compare",
                "--qrels",
                qrels.to_str().unwrap(),
                base_run.to_str().unwrap(),
                run.to_str().unwrap(),
                "--json",
            ])))
            .unwrap();
            for metric in ["nDCG@10", "Recall@100", "MRR@10", "MAP@100"] {
                let sig = &s["significance"][metric];
                let row = &cmp["metrics"][metric][1];
                assert_eq!(
                    sig["p_value"], row["p_ttest"],
                    "{ds} {} {metric}",
                    s["system"]
                );
                assert!(
                    (sig["delta"].as_f64().unwrap() - row["delta"].as_f64().unwrap()).abs() < 1e-12
                );
            }
            p_by_system
                .entry(s["system"].as_str().unwrap().to_string())
                .or_default()
                .push(s["significance"]["nDCG@10"]["p_value"].as_f64().unwrap());
        }
    }
    // Holm over the two datasets, by hand: the smaller p doubled, the larger kept (running max).
    for (si, (system, p)) in p_by_system.iter().enumerate() {
        let (lo, hi) = (p[0].min(p[1]), p[0].max(p[1]));
        let adj_lo = (2.0 * lo).min(1.0);
        let adj_hi = hi.max(adj_lo);
        for (di, pi) in p.iter().enumerate() {
            let want = if *pi == lo && (p[0] != p[1] || di == 0) {
                adj_lo
            } else {
                adj_hi
            };
            let sig = &results["datasets"][di]["systems"][1 + si]["significance"]["nDCG@10"];
            assert_eq!(
                sig["p_holm"].as_f64().unwrap(),
                want,
                "{system} dataset {di}"
            );
            assert_eq!(sig["significant"].as_bool().unwrap(), want < 0.05);
            let line = md
                .lines()
                .find(|l| l.starts_with(&format!("| {system} |")))
                .unwrap();
            let cell = line.split('|').nth(2 + di).unwrap();
            assert_eq!(cell.contains('†'), want < 0.05, "{line}");
        }
    }

    // The randomisation test: the same p-values as compare's, same permutations and seed.
    if model.is_some() {
        let out2 = tmp.path().join("results-rand");
        let dense = &systems[1];
        ok(&trawl(&[
            "bench",
            "--datasets",
            alpha.to_str().unwrap(),
            "--out",
            out2.to_str().unwrap(),
            "--system",
            "bm25",
            "--system",
            dense,
            "--test",
            "randomization",
            "--permutations",
            "500",
            "--seed",
            "7",
        ]));
        let r = read_json(&out2.join("results.json"));
        let s = &r["datasets"][0]["systems"];
        assert_eq!(s[1]["kb"]["reused"], true, "the first run's KB is reused");
        let cmp: Value = serde_json::from_str(&ok(&trawl(&[
            "compare",
            "--qrels",
            alpha.join("qrels/test.tsv").to_str().unwrap(),
            out2.join(s[0]["run_file"].as_str().unwrap())
                .to_str()
                .unwrap(),
            out2.join(s[1]["run_file"].as_str().unwrap())
                .to_str()
                .unwrap(),
            "--json",
            "--permutations",
            "500",
            "--seed",
            "7",
        ])))
        .unwrap();
        assert_eq!(
            s[1]["significance"]["nDCG@10"]["p_value"],
            cmp["metrics"]["nDCG@10"][1]["p_randomisation"]
        );
        let md = std::fs::read_to_string(out2.join("table.md")).unwrap();
        assert!(
            md.contains("randomisation test, 500 permutations, seed 7"),
            "{md}"
        );
    }
}

#[test]
fn bad_arguments_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (alpha, _) = datasets(tmp.path());
    let a = alpha.to_str().unwrap();
    let out = tmp.path().join("r");
    let o = out.to_str().unwrap();
    let err = |args: &[&str]| {
        let out = trawl(args);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(&["bench", "--datasets", a, "--system", "bm42", "--out", o]);
    assert!(
        e.contains("--system bm42: expected bm25, dense:MODEL or hybrid:MODEL"),
        "{e}"
    );
    let e = err(&["bench", "--datasets", a, "--system", "dense", "--out", o]);
    assert!(e.contains("dense needs a model"), "{e}");
    let e = err(&[
        "bench",
        "--datasets",
        a,
        "--system",
        "bm25",
        "--baseline",
        "dense:x",
        "--out",
        o,
    ]);
    assert!(
        e.contains("--baseline dense:x is not one of the systems (bm25)"),
        "{e}"
    );
    let e = err(&[
        "bench",
        "--datasets",
        a,
        "--system",
        "bm25",
        "--test",
        "wilcoxon",
        "--out",
        o,
    ]);
    assert!(e.contains("unknown significance test 'wilcoxon'"), "{e}");
    // An existing folder that is not a results folder is never replaced.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let e = err(&["bench", "--datasets", a, "--system", "bm25", "--out", o]);
    assert!(e.contains("is not a `trawl bench` results folder"), "{e}");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}
