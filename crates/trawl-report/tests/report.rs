//! The HTML report: every chart present for 5 datasets x 4 systems within 5 MB, the table's
//! numbers those of results.json, and bad inputs either noted in the page or refused clearly.

mod common;

use std::path::{Path, PathBuf};

use common::{results, system};
use trawl_report::report::build;
use trawl_report::{significance, Results, SystemResults};

/// A deterministic pseudo-random value in [0, 1).
fn noise(i: usize, salt: usize) -> f64 {
    let x = (i as u64 + 1).wrapping_mul(6364136223846793005)
        ^ (salt as u64).wrapping_mul(0x9E3779B97F4A7C15);
    ((x >> 11) % 10_000) as f64 / 10_000.0
}

/// The metrics of a default `trawl bench` run.
const BENCH_METRICS: [&str; 4] = ["nDCG@10", "Recall@100", "MRR@10", "MAP@100"];

fn big_system(label: &str, n: usize, salt: usize) -> SystemResults {
    let values: Vec<f64> = (0..n).map(|i| noise(i, salt)).collect();
    let mut s = system(label, &values);
    // Four metrics per query, as `trawl bench` writes by default.
    for (m, name) in BENCH_METRICS.iter().enumerate().skip(1) {
        let mut sum = 0.0;
        for (i, v) in s.per_query.values_mut().enumerate() {
            v.push(noise(i, salt + 7 * m));
            sum += v[m];
        }
        s.mean.insert(name.to_string(), sum / n as f64);
    }
    s.recall_curve = (1..=1000).map(|k| (k as f64).ln() / 1000f64.ln()).collect();
    s.timings.per_query_latency_ms = (0..n).map(|i| 0.5 + 20.0 * noise(i, salt + 99)).collect();
    s
}

fn write_results(dir: &Path, r: &Results) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("results.json"), serde_json::to_string(r).unwrap()).unwrap();
    for d in &r.datasets {
        for s in &d.systems {
            let p = dir.join(&s.run_file);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
    }
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[test]
fn five_datasets_four_systems_fit_in_5_mb_with_every_chart() {
    let names = ["alpha", "beta", "gamma", "delta", "epsilon"];
    let systems = ["bm25", "dense:a", "dense:b", "hybrid:a"];
    let mut r = results(
        names
            .iter()
            .enumerate()
            .map(|(d, n)| {
                let s = systems
                    .iter()
                    .enumerate()
                    .map(|(i, l)| big_system(l, 2000, d * 10 + i))
                    .collect();
                (*n, s)
            })
            .collect(),
    );
    r.metrics = BENCH_METRICS.iter().map(|m| m.to_string()).collect();
    for d in &mut r.datasets {
        d.num_queries = 2000;
    }
    significance::apply(&mut r).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write_results(tmp.path(), &r);
    let report = build(&[tmp.path().to_path_buf()]).unwrap();
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let html = &report.html;
    assert!(html.len() < 5 << 20, "{} bytes", html.len());
    // scripts/check_report.sh --big opens this page in Chromium (load time, drawing, numbers).
    if let Some(dir) = std::env::var_os("TRAWL_REPORT_SAMPLE_DIR") {
        let dir = PathBuf::from(dir);
        write_results(&dir.join("results"), &r);
        std::fs::write(dir.join("report.html"), html).unwrap();
    }
    // 2 bar charts (nDCG@10, Recall@100), 5 Recall@k, 5 x 3 win/loss, 5 latency.
    assert_eq!(count(html, "data-chart=\"bars\""), 2);
    assert_eq!(count(html, "data-chart=\"lines\""), 5);
    assert_eq!(count(html, "data-chart=\"differences\""), 15);
    assert_eq!(count(html, "data-chart=\"latency\""), 5);
    // Offline: nothing fetched.
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
    // Every table cell carries results.json's mean.
    for d in &r.datasets {
        for s in &d.systems {
            let cell = format!(
                "data-dataset=\"{}\" data-system=\"{}\" data-value=\"{}\"",
                d.name, s.system, s.mean["nDCG@10"]
            );
            assert!(html.contains(&cell), "{cell}");
        }
    }
    // Hover values on bars and the win/loss counts.
    assert!(html.contains("<title>dense:a on gamma: "));
    assert!(html.contains(" wins, "));
}

#[test]
fn bad_inputs_are_noted_in_the_page_or_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let base = [0.1, 0.5, 0.3, 0.9, 0.4];
    let better = [0.2, 0.6, 0.5, 0.9, 0.7];
    // Set A: two metrics; its dense run file is deleted afterwards.
    let mut a = results(vec![(
        "alpha",
        vec![system("bm25", &base), system("dense:m", &better)],
    )]);
    a.metrics.push("Recall@100".into());
    for s in &mut a.datasets[0].systems {
        for v in s.per_query.values_mut() {
            v.push(1.0);
        }
        s.mean.insert("Recall@100".into(), 1.0);
    }
    significance::apply(&mut a).unwrap();
    let dir_a = tmp.path().join("a");
    write_results(&dir_a, &a);
    std::fs::remove_file(dir_a.join("runs/dense:m.trec")).unwrap();
    // Set B: one metric, and no dense system.
    let b = results(vec![("beta", vec![system("bm25", &better)])]);
    let dir_b = tmp.path().join("b");
    write_results(&dir_b, &b);
    // A training log cut mid-line.
    let log = tmp.path().join("train_log.jsonl");
    std::fs::write(&log, "{\"event\":\"step\",\"step\":1,\"loss\":2.0}\n{\"event\":\"step\",\"step\":2,\"loss\":1.5}\n{\"event\":\"eval\",\"step\":2,\"nDCG@10\":0.7,\"is_best\":true}\n{\"event\":\"st").unwrap();
    let ann = tmp.path().join("ann.json");
    std::fs::write(&ann, r#"[{"engine":"trawl","index":"hnsw","threads":1,"knob":"ef=16","recall":0.9,"qps":4000},{"engine":"trawl","index":"hnsw","threads":1,"knob":"ef=64","recall":0.99,"qps":1500}]"#).unwrap();

    let report = build(&[dir_a.clone(), dir_b, log.clone(), ann]).unwrap();
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("the run file runs/dense:m.trec of dense:m on alpha is missing"),
        "{notes}"
    );
    assert!(
        notes.contains("metrics Recall@100 are not in every results set and are left out"),
        "{notes}"
    );
    assert!(notes.contains("dense:m has no results on beta"), "{notes}");
    assert!(
        notes.contains("1 line(s) are not complete JSON and were skipped (line 4)"),
        "{notes}"
    );
    let html = &report.html;
    assert!(html.contains("<div class=\"notes\" id=\"notes\">"));
    assert_eq!(
        count(html, "<table class=\"paper\""),
        1,
        "only the shared metric"
    );
    assert!(html.contains("<td class=\"missing\">–</td>"));
    assert!(html.contains("Training loss") && html.contains("Validation ("));
    assert!(html.contains("Recall@10 vs queries/s"));

    // Unusable inputs: a clear error naming the file.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let err = build(&[junk]).unwrap_err().to_string();
    assert!(
        err.contains("junk.json: not a results folder or results.json"),
        "{err}"
    );
    let empty_log = tmp.path().join("empty.jsonl");
    std::fs::write(&empty_log, "{\"event\":\"sta").unwrap();
    let err = build(&[empty_log]).unwrap_err().to_string();
    assert!(
        err.contains("no training step or evaluation records"),
        "{err}"
    );
    let err = build(&[PathBuf::from("/nonexistent/results")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/results"), "{err}");
}

#[test]
fn embedding_stats_become_a_table_row_and_a_spectrum_chart() {
    use trawl_report::geometry::{embedding_stats, STATS_FORMAT};
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<f32> = (0..64).map(|i| ((i * 37 % 11) as f32) - 5.0).collect();
    let stats = embedding_stats(&rows, 4, None).unwrap();
    let path = tmp.path().join("stats.json");
    let doc = serde_json::json!({"format": STATS_FORMAT, "source": "base.npy", "stats": stats});
    std::fs::write(&path, doc.to_string()).unwrap();
    let report = build(&[path]).unwrap();
    assert!(report
        .html
        .contains("<td>base.npy</td><td>16</td><td>4</td>"));
    assert!(report.html.contains("Covariance eigenvalue spectrum"));
}
