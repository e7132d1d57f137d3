//! `trawl kb import-faiss` and `trawl check --faiss-index` through the real binary, on the
//! faiss-cpu fixtures of crates/trawl-vector/tests/data/faiss (bench/faiss_fixtures.py).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trawl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .expect("run trawl")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../trawl-vector/tests/data/faiss")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_ivfpq_index_imports_and_answers_with_faiss_top10_as_doc_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = tmp.path().join("kb");
    let kb_s = kb.to_str().unwrap();
    let o = trawl(&[
        "kb",
        "import-faiss",
        &fixture("ivfpq_ip.faiss"),
        "--ids",
        &fixture("id_mapping.pkl"),
        "--docs",
        &fixture("corpus.jsonl"),
        "--out",
        kb_s,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("IwPQ"), "{}", text(&o));
    let o = trawl(&[
        "search",
        kb_s,
        "--vectors",
        &fixture("queries.npy"),
        "--index",
        "faiss",
        "--nprobe",
        "4",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("ivfpq_ip.expected.json")).unwrap())
            .unwrap();
    let results = got["results"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    for (r, w) in results.iter().zip(want["ids"].as_array().unwrap()).take(10) {
        let mut a: Vec<String> = r["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect();
        let mut b: Vec<String> = w
            .as_array()
            .unwrap()
            .iter()
            .map(|x| format!("doc{:04}", x.as_i64().unwrap()))
            .collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}

#[test]
fn check_reads_the_faiss_triple_and_fails_on_a_short_mapping() {
    let o = trawl(&[
        "check",
        "--faiss-index",
        &fixture("hnsw_l2.faiss"),
        "--id-mapping",
        &fixture("id_mapping_dict.pkl"),
        "--labels",
        &fixture("labels_graded.pkl"),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("IHNf read as hnsw, 600 vectors of dimension 16"),
        "{t}"
    );
    assert!(
        t.contains("16 of 16 labelled docs in their own top 10"),
        "{t}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let ids: PathBuf = tmp.path().join("ids.txt");
    std::fs::write(&ids, "doc0000\ndoc0001\n").unwrap();
    let o = trawl(&[
        "check",
        "--faiss-index",
        &fixture("hnsw_l2.faiss"),
        "--id-mapping",
        ids.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("✗ id mapping") && t.contains("2 ids for 600 vectors"),
        "{t}"
    );
}
