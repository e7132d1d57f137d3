//! `trawl kb plan` against real builds: a KB of 100k vectors gets each approximate index from
//! `trawl kb index` (a child process reporting its peak RSS); the planner's disk size and peak
//! build memory must be within 15% of what the build wrote and used.

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
    for (spec, build) in [
        (
            "hnsw:8",
            vec!["--type", "hnsw", "--m", "8", "--ef-construction", "24"],
        ),
        ("ivf:256", vec!["--type", "ivf", "--nlist", "256"]),
        ("sq8", vec!["--type", "sq8"]),
        (
            "ivfpq:256,16",
            vec!["--type", "ivfpq", "--nlist", "256", "--m", "16"],
        ),
    ] {
        let plan: serde_json::Value = serde_json::from_str(&ok(&trawl(&[
            "kb",
            "plan",
            "--docs",
            &n,
            "--dim",
            &dim,
            "--index",
            spec,
            "--ef-construction",
            "24",
            "--calibrate",
            "0",
            "--json",
        ])))
        .unwrap();
        let name = spec.split(':').next().unwrap();
        // A KB of its own: opening a KB maps (and verifies) the indexes it already holds.
        let own = tmp.path().join(name);
        copy_dir(&kb_dir, &own);
        let mut args = vec!["kb", "index", own.to_str().unwrap(), "--name", name];
        args.extend(&build);
        let o = trawl(&args);
        ok(&o);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let peak: u64 = stderr
            .split("peak memory ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no peak memory in: {stderr}"));
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
