//! `trawl kb plan` against real builds: a KB of 100k vectors gets each approximate index from
//! `trawl kb index` (a child process reporting its peak RSS), and 100k generated MS MARCO-shaped
//! documents get a BM25 KB from `trawl kb build` (also reporting its peak RSS); the planner's
//! disk size and peak build memory must be within 15% of what the builds wrote and used.

mod common;

use common::{ok, trawl};
use trawl_data::Document;
use trawl_kb::{DenseEmbeddings, KbBuildOptions, KnowledgeBase};

const N: usize = 100_000;
/// 100k x 96 f32 = 38.4 MB: above glibc's largest mmap threshold (32 MiB), so every full-size
/// array is its own mapping, returned when freed, as at the scales the planner is for.
const DIM: usize = 96;

fn vectors() -> Vec<f32> {
    let h = |x: u64| {
        let mut z = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut out = Vec::with_capacity(N * DIM);
    for i in 0..N {
        let c = (i % 50) as u64;
        let row: Vec<f32> = (0..DIM)
            .map(|d| h(1 << 40 | (c * 1000 + d as u64)) + 0.5 * h((i * DIM + d) as u64))
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(row.iter().map(|x| x / norm));
    }
    out
}

/// The `peak memory N bytes` a build reports (its peak RSS, Linux `VmHWM`).
fn peak_memory(out: &str) -> u64 {
    out.split("peak memory ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in: {out}"))
}

/// Bytes of the files in `dir` and below.
fn tree_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                tree_bytes(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn within(what: &str, predicted: u64, measured: u64, tolerance: f64) {
    let err = (predicted as f64 - measured as f64).abs() / measured as f64;
    eprintln!(
        "{what}: predicted {predicted}, measured {measured}, error {:.1}%",
        err * 100.0
    );
    assert!(
        err <= tolerance,
        "{what}: predicted {predicted} bytes, measured {measured} ({:.1}% off)",
        err * 100.0
    );
}

#[test]
fn plan_predicts_disk_and_peak_build_memory_of_100k_vectors_within_15_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let kb_dir = tmp.path().join("kb");
    let docs = (0..N).map(|i| {
        Ok(Document {
            id: format!("d{i}"),
            text: format!("d{i}"),
            ..Default::default()
        })
    });
    let options = KbBuildOptions {
        bm25: None,
        dense: Some(DenseEmbeddings::new(vectors(), DIM, "synthetic")),
        ..Default::default()
    };
    KnowledgeBase::build(docs, &kb_dir, &options, |_| {}).unwrap();
    let (n, dim) = (N.to_string(), DIM.to_string());
    let hnsw = ["--type", "hnsw", "--m", "8", "--ef-construction", "24"];
    // (name, what the plan is told, what `kb index` is told)
    for (name, spec, build) in [
        ("hnsw", vec!["hnsw:8"], hnsw.to_vec()),
        (
            "hnsw_f16",
            vec!["hnsw:8", "--storage", "f16"],
            [&hnsw[..], &["--storage", "f16"]].concat(),
        ),
        (
            "hnsw_sq8",
            vec!["hnsw:8", "--storage", "sq8"],
            [&hnsw[..], &["--storage", "sq8"]].concat(),
        ),
        (
            "ivf",
            vec!["ivf:256"],
            vec!["--type", "ivf", "--nlist", "256"],
        ),
        ("sq8", vec!["sq8"], vec!["--type", "sq8"]),
        (
            "ivfpq",
            vec!["ivfpq:256,16"],
            vec!["--type", "ivfpq", "--nlist", "256", "--m", "16"],
        ),
    ] {
        let mut args = vec![
            "kb",
            "plan",
            "--docs",
            &n,
            "--dim",
            &dim,
            "--ef-construction",
            "24",
            "--calibrate",
            "0",
            "--json",
            "--index",
        ];
        args.extend(&spec);
        let plan: serde_json::Value = serde_json::from_str(&ok(&trawl(&args))).unwrap();
        let spec = spec.join(" ");
        // A KB of its own: opening a KB maps (and verifies) the indexes it already holds.
        let own = tmp.path().join(name);
        copy_dir(&kb_dir, &own);
        let mut args = vec!["kb", "index", own.to_str().unwrap(), "--name", name];
        args.extend(&build);
        let o = trawl(&args);
        ok(&o);
        let peak = peak_memory(&String::from_utf8_lossy(&o.stderr));
        let disk = dir_bytes(&own.join("ann").join(name));
        within(
            &format!("{spec} index on disk"),
            plan["disk_bytes"]["index"].as_u64().unwrap(),
            disk,
            0.15,
        );
        within(
            &format!("{spec} peak build memory"),
            plan["build_peak_bytes"].as_u64().unwrap(),
            peak,
            0.15,
        );
    }
    let dense = dir_bytes(&kb_dir.join("dense"));
    let plan: serde_json::Value = serde_json::from_str(&ok(&trawl(&[
        "kb",
        "plan",
        "--docs",
        &n,
        "--dim",
        &dim,
        "--calibrate",
        "0",
        "--json",
    ])))
    .unwrap();
    within(
        "flat vectors on disk",
        plan["disk_bytes"]["vectors"].as_u64().unwrap(),
        dense,
        0.15,
    );
}

/// A BM25 KB of 100k documents drawn from the planner's own corpus model (Zipfian words, 56
/// tokens a document on average, as `bench/bm25_scale.py`), built by `trawl kb build` with the
/// default budget (everything inverted in memory), with 8 MiB (runs spilled and merged), and
/// with 8 MiB over the same texts carrying 2 KB titles that are stored but not indexed
/// (`--text-only`): a KB four times larger, whose reopen after the build is the peak, as it is
/// for large corpora. The plan's disk sizes and peak memory must be within 15% of each build's.
#[test]
fn bm25_plan_predicts_disk_and_peak_build_memory_of_100k_documents_within_15_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let mut gen = trawl_kb::plan::zipf::ZipfCorpus::new(56.0, 1);
    let title = "z".repeat(2000);
    let (mut plain, mut titled) = (String::new(), String::new());
    let mut text_bytes = 0usize;
    for i in 0..N {
        let text = gen.document();
        text_bytes += text.len();
        for (out, title) in [(&mut plain, ""), (&mut titled, title.as_str())] {
            let line = serde_json::json!({"_id": format!("d{i}"), "title": title, "text": text});
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    let (plain_path, titled_path) = (
        tmp.path().join("plain.jsonl"),
        tmp.path().join("titled.jsonl"),
    );
    std::fs::write(&plain_path, plain).unwrap();
    std::fs::write(&titled_path, titled).unwrap();
    let avg = |extra: usize| format!("{:.1}", (text_bytes + extra * N) as f64 / N as f64);
    for (name, budget, corpus, stored, text_only) in [
        ("plain", "2G", &plain_path, avg(0), false),
        ("plain", "8M", &plain_path, avg(0), false),
        ("titled", "8M", &titled_path, avg(title.len()), true),
    ] {
        let plan: serde_json::Value = serde_json::from_str(&ok(&trawl(&[
            "kb",
            "plan",
            "--index",
            "bm25",
            "--docs",
            "100k",
            "--avg-doc-len",
            "56",
            "--avg-doc-bytes",
            &stored,
            "--memory-budget",
            budget,
            "--calibrate",
            "0",
            "--json",
        ])))
        .unwrap();
        let kb = tmp.path().join(format!("kb-{name}-{budget}"));
        let mut args = vec![
            "kb",
            "build",
            corpus.to_str().unwrap(),
            "--out",
            kb.to_str().unwrap(),
            "--memory-budget",
            budget,
        ];
        if text_only {
            args.push("--text-only");
        }
        let built = ok(&trawl(&args));
        let what = format!("bm25 ({name}, budget {budget})");
        let runs = plan["runs"].as_u64().unwrap();
        assert_eq!(runs == 0, budget == "2G", "{plan}");
        within(
            &format!("{what} index on disk"),
            plan["disk_bytes"]["index"].as_u64().unwrap(),
            tree_bytes(&kb.join("bm25")),
            0.15,
        );
        within(
            &format!("{what} KB on disk"),
            plan["disk_bytes"]["total"].as_u64().unwrap(),
            tree_bytes(&kb),
            0.15,
        );
        within(
            &format!(
                "{what} peak build memory (planned at {})",
                plan["build_peak_phase"]
            ),
            plan["build_peak_bytes"].as_u64().unwrap(),
            peak_memory(&built),
            0.15,
        );
        // The file pages of the reopen are most of the titled KB's peak.
        if name == "titled" {
            assert_eq!(plan["build_peak_phase"], "reopen", "{plan}");
        }
    }
}

#[test]
fn bm25_plan_refuses_missing_or_bad_corpus_figures_naming_the_flag() {
    let bm25 = "--index bm25 --docs 1M --avg-doc-len 56";
    for (args, says) in [
        ("--index bm25 --docs 1M".to_string(), "--avg-doc-len"),
        (
            "--index bm25 --docs 1M --avg-doc-len 0".into(),
            "--avg-doc-len 0",
        ),
        ("--index bm25 --docs 0 --avg-doc-len 56".into(), "--docs"),
        (format!("{bm25} --dim 8"), "--dim"),
        (format!("{bm25} --avg-doc-bytes 0"), "--avg-doc-bytes"),
        (format!("{bm25} --memory-budget 10K"), "--memory-budget"),
        (format!("{bm25} --storage f16"), "--storage"),
        ("--index hnsw --docs 1M".into(), "--dim"),
        (
            "--index ivf --docs 1M --dim 8 --storage f16".into(),
            "--storage",
        ),
        ("--docs 1M --dim 8 --avg-doc-len 5".into(), "--avg-doc-len"),
    ] {
        let mut all = vec!["kb", "plan", "--calibrate", "0"];
        all.extend(args.split_whitespace());
        let o = trawl(&all);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args} succeeded");
        assert!(e.contains(says), "{args}: expected `{says}` in: {e}");
        assert!(!e.contains("panicked"), "{args}: {e}");
    }
}

#[test]
fn bm25_plan_prints_an_aligned_table_and_a_calibrated_time() {
    let out = ok(&trawl(&[
        "kb",
        "plan",
        "--index",
        "bm25",
        "--docs",
        "8.8M",
        "--avg-doc-len",
        "56",
        "--calibrate",
        "2000",
    ]));
    for row in [
        "index on disk (bm25/)",
        "total disk",
        "peak memory to build (reopen)",
        "memory to serve",
        "build time",
        "queries/s (k 10",
        "calibration",
    ] {
        assert!(out.contains(row), "no `{row}` in:\n{out}");
    }
    // Values end in one column (the calibration row aside).
    let ends: std::collections::BTreeSet<usize> = out
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("  ") && !l.contains("calibration") && !l.starts_with("  ("))
        .map(|l| l.chars().count())
        .collect();
    assert_eq!(ends.len(), 1, "ragged table:\n{out}");
}
