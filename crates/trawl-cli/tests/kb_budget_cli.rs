//! `trawl kb build --memory-budget SIZE` through the binary: a budget small enough to spill
//! many runs builds the KB the default (one-pass) build writes, file for file; bad sizes are
//! refused naming the flag and the expected form; kill -9 during a spilling build leaves no KB
//! at all (never a half-written one) and a rerun succeeds.

mod common;

use std::path::{Path, PathBuf};

use common::{err, ok, trawl};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir` (relative path, bytes), sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The files of two KBs are equal, but for the manifest (which records its creation time).
fn assert_same_kb(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    let names = |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb));
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        if name.as_os_str() != "manifest.json" {
            assert!(x == y, "{} differs", name.display());
        }
    }
}

fn manifest(kb: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(&trawl(&["kb", "info", s(kb)]))).unwrap()
}

#[test]
fn scifact_with_a_one_mebibyte_budget_equals_the_default_build_file_for_file() {
    let Some(data) = trawl_data::shared_data::locate("beir/scifact") else {
        eprintln!("beir/scifact not found; skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (one, many) = (tmp.path().join("one"), tmp.path().join("many"));
    ok(&trawl(&["kb", "build", s(&data), "--out", s(&one)]));
    ok(&trawl(&[
        "kb",
        "build",
        s(&data),
        "--out",
        s(&many),
        "--memory-budget",
        "1M",
    ]));
    assert_same_kb(&one, &many);
    let (a, b) = (manifest(&one), manifest(&many));
    assert_eq!(a["content_hash"], b["content_hash"]);
    assert_eq!(a["bm25"], b["bm25"]);
    let q = "microstructural development of human newborn cerebral white matter";
    assert_eq!(
        ok(&trawl(&["search", s(&one), q, "-k", "100", "--json"])),
        ok(&trawl(&["search", s(&many), q, "-k", "100", "--json"]))
    );
}

#[test]
fn bad_memory_budgets_are_refused_naming_the_flag_and_the_expected_size() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("c.jsonl");
    std::fs::write(&corpus, "{\"_id\": \"a\", \"text\": \"cats\"}\n").unwrap();
    let kb = tmp.path().join("kb");
    for (bad, says) in [
        ("2X", "not a size"),
        ("lots", "not a size"),
        ("100K", "below the smallest memory budget, 1M"),
        ("0", "below the smallest memory budget"),
    ] {
        let e = err(&trawl(&[
            "kb",
            "build",
            s(&corpus),
            "--out",
            s(&kb),
            "--memory-budget",
            bad,
        ]));
        assert!(
            e.contains("--memory-budget") && e.contains(says),
            "{bad}: {e}"
        );
        assert!(!kb.exists(), "{bad}: nothing written");
    }
    for good in ["1M", "1.5G", "512mb", "3GiB", "1048576"] {
        ok(&trawl(&[
            "kb",
            "build",
            s(&corpus),
            "--out",
            s(&kb),
            "--force",
            "--memory-budget",
            good,
        ]));
    }
}

/// A letters-only word for `i`, from a small skewed vocabulary.
fn text(i: usize) -> String {
    (0..40)
        .map(|j| {
            let r = (i * 7919 + j * 104_729) % 5000;
            let r = r * r / 5000; // skewed towards small ranks
            let mut w = String::from("w");
            let mut r = r;
            loop {
                w.push((b'a' + (r % 26) as u8) as char);
                r /= 26;
                if r == 0 {
                    break;
                }
            }
            w + "x"
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn kill_9_during_a_spilling_build_leaves_no_kb_and_a_rerun_equals_the_one_pass_build() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("big.jsonl");
    let lines: String = (0..30_000)
        .map(|i| format!("{{\"_id\": \"d{i}\", \"text\": \"{}\"}}\n", text(i)))
        .collect();
    std::fs::write(&corpus, lines).unwrap();
    let kb = tmp.path().join("kb");
    let args = [
        "kb",
        "build",
        s(&corpus),
        "--out",
        s(&kb),
        "--memory-budget",
        "1M",
    ];
    let one = tmp.path().join("one");
    ok(&trawl(&["kb", "build", s(&corpus), "--out", s(&one)]));
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..4 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = std::time::Duration::from_millis(50 + state % 700);
        common::kill_after(&args, delay);
        // A kill before the atomic rename leaves nothing; one after it (while the process
        // prints or exits) leaves the whole KB. Never a part of one.
        if kb.exists() {
            assert_same_kb(&one, &kb);
            std::fs::remove_dir_all(&kb).unwrap();
        }
    }
    ok(&trawl(&args));
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "big.jsonl" && n != "kb" && n != "one")
        .collect();
    assert!(leftovers.is_empty(), "a rerun cleans up: {leftovers:?}");
    assert_same_kb(&one, &kb);
    std::fs::remove_dir_all(&one).unwrap();
}
