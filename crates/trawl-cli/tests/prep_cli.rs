//! `trawl prep wiki|msmarco` end to end: the binary writes what the library tests check, and
//! bad input fails with the file named and nothing written.

use std::path::Path;
use std::process::Command;

fn trawl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .expect("run trawl")
}

fn sample_dump() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../trawl-prep/tests/data/wiki_sample.xml")
}

#[test]
fn prep_wiki_writes_the_golden_passages_and_kb_build_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("passages.jsonl");
    let o = trawl(&[
        "prep",
        "wiki",
        sample_dump().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let golden = sample_dump().with_file_name("wiki_sample.passages.jsonl");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(golden).unwrap()
    );
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["passages"], 3);
    let kb = tmp.path().join("kb");
    let o = trawl(&[
        "kb",
        "build",
        out.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = trawl(&[
        "search",
        kb.to_str().unwrap(),
        "diffusely reflected sunlight",
        "-k",
        "1",
        "--json",
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Albedo"));
}

#[test]
fn prep_wiki_on_a_truncated_dump_fails_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let xml = std::fs::read_to_string(sample_dump()).unwrap();
    let cut = tmp.path().join("cut.xml");
    std::fs::write(&cut, &xml[..xml.len() / 2]).unwrap();
    let out = tmp.path().join("p.jsonl");
    let o = trawl(&[
        "prep",
        "wiki",
        cut.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cut.xml") && err.contains("truncated"),
        "{err}"
    );
    assert!(!out.exists(), "a failed run left an output");
}

#[test]
fn prep_msmarco_writes_a_beir_folder_that_trawl_beir_runs_on() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("msmarco");
    std::fs::create_dir(&src).unwrap();
    let passages: String = (0..20)
        .map(|i| format!("{i}\tpassage {i} mentions word{i}\n"))
        .collect();
    std::fs::write(src.join("collection.tsv"), passages).unwrap();
    std::fs::write(src.join("queries.train.tsv"), "100\tword1\n101\tword2\n").unwrap();
    std::fs::write(src.join("queries.dev.tsv"), "200\tword3\n201\tword4\n").unwrap();
    std::fs::write(src.join("qrels.train.tsv"), "100\t0\t1\t1\n101\t0\t2\t1\n").unwrap();
    std::fs::write(src.join("qrels.dev.tsv"), "200\t0\t3\t1\n201\t0\t4\t1\n").unwrap();
    std::fs::write(
        src.join("qidpidtriples.train.full.2.tsv"),
        "100\t1\t5\n101\t2\t6\n",
    )
    .unwrap();
    let out = tmp.path().join("beir");
    let o = trawl(&[
        "prep",
        "msmarco",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = trawl(&["beir", out.to_str().unwrap(), "--split", "dev", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["metrics"]["ndcg@10"], 1.0, "{v}");
    // A second run without --force refuses to replace the folder.
    let o = trawl(&[
        "prep",
        "msmarco",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--force"));
}
