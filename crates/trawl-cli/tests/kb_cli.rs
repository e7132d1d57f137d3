//! `trawl kb build` / `trawl kb info` through the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn trawl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .expect("run trawl")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const CORPUS: &str = r#"{"_id": "cats", "title": "Cats", "text": "Cats purr, sleep all day and chase mice."}
{"_id": "dogs", "title": "Dogs", "text": "Dogs bark at the mail carrier and fetch sticks."}
{"_id": "bees", "title": "Honey bees", "text": "Bees make honey and pollinate flowers.", "source": "wiki"}
"#;

fn write_corpus(dir: &Path) -> String {
    let p = dir.join("corpus.jsonl");
    std::fs::write(&p, CORPUS).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn kb_build_writes_a_searchable_kb_and_prints_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = write_corpus(tmp.path());
    let kb = tmp.path().join("kb");
    let kb = kb.to_str().unwrap();
    let o = trawl(&["kb", "build", &corpus, "--out", kb]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("3 docs") && out.contains("terms") && out.contains("on disk"),
        "{out}"
    );

    let o = trawl(&["kb", "info", kb]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let manifest: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(manifest["format"], "trawl-kb");
    assert_eq!(manifest["num_docs"], 3);
    assert_eq!(manifest["bm25"]["params"]["k1"], 0.9);
    assert_eq!(manifest["bm25"]["fields"], "title_text");
    assert!(manifest["dense"].is_null());
}

#[test]
fn kb_build_refuses_to_overwrite_without_force_and_never_a_foreign_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = write_corpus(tmp.path());
    let kb = tmp.path().join("kb");
    let kb = kb.to_str().unwrap();
    assert!(trawl(&["kb", "build", &corpus, "--out", kb])
        .status
        .success());
    let o = trawl(&["kb", "build", &corpus, "--out", kb]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("--force"), "{}", text(&o).1);
    assert!(trawl(&[
        "kb",
        "build",
        &corpus,
        "--out",
        kb,
        "--force",
        "--k1",
        "1.2",
        "--text-only"
    ])
    .status
    .success());
    let info: serde_json::Value =
        serde_json::from_str(&text(&trawl(&["kb", "info", kb])).0).unwrap();
    assert_eq!(info["bm25"]["fields"], "text");
    assert!((info["bm25"]["params"]["k1"].as_f64().unwrap() - 1.2).abs() < 1e-6);

    let foreign = tmp.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.tex"), "precious").unwrap();
    let o = trawl(&[
        "kb",
        "build",
        &corpus,
        "--out",
        foreign.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("not a trawl knowledge base"),
        "{}",
        text(&o).1
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("thesis.tex")).unwrap(),
        "precious"
    );
}

#[test]
fn kb_build_force_with_a_model_that_fails_keeps_the_old_kb() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = write_corpus(tmp.path());
    let kb = tmp.path().join("kb");
    let kb = kb.to_str().unwrap();
    assert!(trawl(&["kb", "build", &corpus, "--out", kb])
        .status
        .success());
    let missing = tmp.path().join("no-such-model");
    let o = trawl(&[
        "kb",
        "build",
        &corpus,
        "--out",
        kb,
        "--force",
        "--dense",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let o = trawl(&["kb", "info", kb]);
    assert!(o.status.success(), "the old KB is gone: {:?}", text(&o));
    let info: serde_json::Value = serde_json::from_str(&text(&o).0).unwrap();
    assert_eq!(info["num_docs"], 3);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

#[test]
fn kb_build_reports_bad_input_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.jsonl");
    std::fs::write(&p, "{\"_id\": \"a\", \"text\": \"ok\"}\n{not json}\n").unwrap();
    let kb = tmp.path().join("kb");
    let o = trawl(&[
        "kb",
        "build",
        p.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o).1;
    assert!(err.contains("bad.jsonl:2"), "{err}");
    assert!(!kb.exists(), "no KB left behind after a failed build");

    let dup = tmp.path().join("dup.jsonl");
    std::fs::write(&dup, "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\", \"text\": \"y\"}\n{\"_id\": \"a\", \"text\": \"z\"}\n").unwrap();
    let o = trawl(&[
        "kb",
        "build",
        dup.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o).1;
    assert!(err.contains("duplicate") && err.contains("`a`"), "{err}");

    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let o = trawl(&[
        "kb",
        "build",
        empty.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("empty"), "{}", text(&o).1);
}

#[test]
fn kb_build_reads_tsv_and_rejects_bad_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("docs.tsv");
    std::fs::write(
        &p,
        "id\ttitle\ttext\nd1\tCats\tCats purr\nd2\tDogs\tDogs bark\n",
    )
    .unwrap();
    let kb = tmp.path().join("kb");
    let kb = kb.to_str().unwrap();
    let o = trawl(&[
        "kb",
        "build",
        p.to_str().unwrap(),
        "--out",
        kb,
        "--stemmer",
        "none",
        "--stopwords",
        "none",
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(text(&o).0.contains("2 docs"));

    // Usage errors are clap errors: exit code 2.
    let o = trawl(&[
        "kb",
        "build",
        p.to_str().unwrap(),
        "--out",
        kb,
        "--method",
        "tfidf",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // A bad value the library rejects: exit code 1 with the reason.
    let o = trawl(&[
        "kb",
        "build",
        p.to_str().unwrap(),
        "--out",
        kb,
        "--force",
        "--stemmer",
        "klingon",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.to_lowercase().contains("klingon"),
        "{}",
        text(&o).1
    );
    let o = trawl(&[
        "kb",
        "build",
        p.to_str().unwrap(),
        "--out",
        kb,
        "--force",
        "--stopwords",
        "/no/such/file",
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn kb_info_refuses_a_directory_that_is_not_a_kb() {
    let tmp = tempfile::tempdir().unwrap();
    let o = trawl(&["kb", "info", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("not a trawl knowledge base"),
        "{}",
        text(&o).1
    );
}

#[test]
fn kb_build_reads_a_beir_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let kb = tmp.path().join("kb");
    let kb = kb.to_str().unwrap();
    let o = trawl(&[
        "kb",
        "build",
        sample.to_str().unwrap(),
        "--out",
        kb,
        "--bm25",
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let info: serde_json::Value =
        serde_json::from_str(&text(&trawl(&["kb", "info", kb])).0).unwrap();
    let lines = std::fs::read_to_string(sample.join("corpus.jsonl")).unwrap();
    assert_eq!(
        info["num_docs"].as_u64().unwrap() as usize,
        lines.lines().filter(|l| !l.trim().is_empty()).count()
    );
}

/// `--dense MODEL` stores the model's document vectors; dense and hybrid search then work from
/// the KB alone (the model path is recorded absolute).
#[cfg(feature = "dense")]
#[test]
fn kb_build_with_dense_vectors_supports_dense_and_hybrid_search() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    if !model.join("model.safetensors").is_file() {
        eprintln!(
            "skipped: {} missing (scripts/get-model.sh installs it)",
            model.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = write_corpus(tmp.path());
    let kb = tmp.path().join("kb");
    let kb = kb.to_str().unwrap();
    let o = trawl(&[
        "kb",
        "build",
        &corpus,
        "--out",
        kb,
        "--bm25",
        "--dense",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(text(&o).0.contains("384-d vectors"), "{}", text(&o).0);
    let info: serde_json::Value =
        serde_json::from_str(&text(&trawl(&["kb", "info", kb])).0).unwrap();
    assert_eq!(info["dense"]["dim"], 384);
    assert!(Path::new(info["dense"]["model"].as_str().unwrap()).is_absolute());
    for retriever in ["dense", "hybrid"] {
        let o = trawl(&[
            "search",
            kb,
            "insects that make honey",
            "--retriever",
            retriever,
            "--json",
            "-k",
            "1",
        ]);
        assert!(o.status.success(), "{retriever}: {}", text(&o).1);
        let v: serde_json::Value = serde_json::from_str(&text(&o).0).unwrap();
        assert_eq!(v["hits"][0]["id"], "bees", "{retriever}");
    }
}
